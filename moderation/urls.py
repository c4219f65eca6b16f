from django.urls import path

from . import api

urlpatterns = [
    path("messages/<int:message_id>/report/", api.MessageReportView.as_view(), name="message-report"),
    path("messages/<int:message_id>/restore/", api.MessageRestoreView.as_view(), name="message-restore"),
    path("rooms/<int:room_id>/members/<int:user_id>/mute/", api.MemberMuteView.as_view(), name="member-mute"),
]
