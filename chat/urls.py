from django.urls import path

from . import api

urlpatterns = [
    path("rooms/", api.RoomListView.as_view(), name="room-list"),
    path("rooms/public/", api.PublicRoomListView.as_view(), name="room-public"),
    path("rooms/direct/", api.DirectRoomView.as_view(), name="room-direct"),
    path("rooms/<int:room_id>/", api.RoomDetailView.as_view(), name="room-detail"),
    path("rooms/<int:room_id>/members/", api.RoomMembersView.as_view(), name="room-members"),
    path("rooms/<int:room_id>/members/<int:user_id>/", api.RoomMemberDetailView.as_view(), name="room-member"),
    path("rooms/<int:room_id>/messages/", api.RoomMessagesView.as_view(), name="room-messages"),
    path("rooms/<int:room_id>/pins/", api.RoomPinsView.as_view(), name="room-pins"),
    path("rooms/<int:room_id>/read/", api.RoomReadView.as_view(), name="room-read"),
    path("rooms/<int:room_id>/invites/", api.RoomInvitesView.as_view(), name="room-invites"),
    path("invites/<str:code>/", api.RoomInviteDetailView.as_view(), name="room-invite-detail"),
    path("invites/<str:code>/accept/", api.RoomInviteAcceptView.as_view(), name="room-invite-accept"),
    path("messages/<int:message_id>/", api.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<int:message_id>/edits/", api.MessageEditsView.as_view(), name="message-edits"),
    path("messages/<int:message_id>/reactions/", api.MessageReactionsView.as_view(), name="message-reactions"),
    path("messages/<int:message_id>/pin/", api.MessagePinView.as_view(), name="message-pin"),
    path("messages/<int:message_id>/thread/", api.ThreadView.as_view(), name="message-thread"),
    path("messages/<int:message_id>/thread/follow/", api.ThreadFollowView.as_view(), name="message-thread-follow"),
    path("messages/<int:message_id>/thread/read/", api.ThreadReadView.as_view(), name="message-thread-read"),
    path("threads/", api.FollowedThreadsView.as_view(), name="threads"),
    path("search/", api.SearchView.as_view(), name="search"),
    path("emoji/", api.EmojiView.as_view(), name="emoji"),
]
