"""Routes of integrations: ``api_urlpatterns`` under /api/v1/, ``hook_urlpatterns`` under /hooks/."""

from django.urls import path

from . import api

api_urlpatterns = [
    path("bots/", api.BotListView.as_view(), name="bot-list"),
    path("bots/<int:bot_id>/", api.BotDetailView.as_view(), name="bot-detail"),
    path("bots/<int:bot_id>/tokens/", api.BotTokenListView.as_view(), name="bot-token-list"),
    path("tokens/<int:token_id>/", api.TokenDetailView.as_view(), name="token-detail"),
    path("rooms/<int:room_id>/webhooks/", api.RoomIncomingWebhooksView.as_view(), name="room-webhooks"),
    path("webhooks/<int:hook_id>/", api.IncomingWebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "rooms/<int:room_id>/outgoing-webhooks/",
        api.RoomOutgoingWebhooksView.as_view(),
        name="room-outgoing-webhooks",
    ),
    path(
        "outgoing-webhooks/<int:hook_id>/",
        api.OutgoingWebhookDetailView.as_view(),
        name="outgoing-webhook-detail",
    ),
    path("rooms/<int:room_id>/commands/", api.RoomCommandsView.as_view(), name="room-commands"),
    path("commands/<int:hook_id>/", api.OutgoingWebhookDetailView.as_view(), name="command-detail"),
]

hook_urlpatterns = [
    path("<str:token>/", api.HookView.as_view(), name="hook"),
]
