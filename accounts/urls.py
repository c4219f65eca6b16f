"""Routes of the accounts app added after the first ones (which config/urls.py names itself)."""

from django.urls import path

from . import api, views

# Under /api/v1/.
api_urlpatterns = [
    path("server-invites/", api.ServerInviteListView.as_view(), name="server-invite-list"),
    path("server-invites/<str:code>/", api.ServerInviteDetailView.as_view(), name="server-invite-detail"),
    path("users/me/", api.ProfileView.as_view(), name="profile-api"),
]

# Pages.
urlpatterns = [
    path("join/<str:code>/", views.join, name="join"),
    path("avatars/<str:key>/<int:side>.webp", views.avatar, name="avatar"),
    path("profile/", views.profile_page, name="profile"),
]
