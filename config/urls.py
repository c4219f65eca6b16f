from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import api as accounts_api
from accounts import urls as accounts_urls
from accounts import views as accounts_views
from chat import views as chat_views
from core.rest import api_not_found
from integrations import urls as integrations_urls

api_v1 = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", accounts_api.LogoutView.as_view(), name="api-logout"),
    path("auth/password/", accounts_api.PasswordChangeView.as_view(), name="api-password"),
    path("auth/register/", accounts_api.RegisterView.as_view(), name="register"),
    path("users/", accounts_api.UserSearchView.as_view(), name="user-search"),
    path("", include(accounts_urls.api_urlpatterns)),
    path("", include("chat.urls")),
    path("", include("uploads.urls")),
    path("", include("presence.urls")),
    path("", include("notifications.urls")),
    path("", include("moderation.urls")),
    path("", include(integrations_urls.api_urlpatterns)),
]

urlpatterns = [
    path("", include("ops.urls")),
    path("", chat_views.room_list, name="home"),
    path("rooms/<int:room_id>/", chat_views.room_view, name="room"),
    path("rooms/<int:room_id>/invites/", chat_views.room_invites, name="room-invites-page"),
    path("invite/<str:code>/", chat_views.invite, name="room-invite"),
    path("accounts/login/", accounts_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", accounts_views.register, name="register-page"),
    path("", include(accounts_urls.urlpatterns)),
    path("accounts/password/", accounts_views.password_change, name="password-change"),
    path("accounts/password/done/", accounts_views.password_change_done, name="password-change-done"),
    path("accounts/password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        accounts_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("hooks/", include(integrations_urls.hook_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start script as a file of its own (the split view): the docs' CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="api-redoc"
    ),
    # Last: any other path under /api/ is an API client's mistake and gets the JSON 404 of the contract.
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
