from django.urls import path

from . import api

urlpatterns = [
    path("presence/", api.PresenceListView.as_view(), name="presence-list"),
    path("presence/me/", api.MyPresenceView.as_view(), name="presence-me"),
]
