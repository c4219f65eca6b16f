"""Sign-in, registration, password change and password reset pages."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages as page_messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import ActionError
from core.payloads import user_payload
from core.ratelimit import check_budget_free
from presence import actions as presence_actions
from uploads.actions import create_upload

from . import profile
from .actions import (
    PASSWORD_RESET,
    check_registration,
    check_registration_open,
    check_registration_rate,
    check_sign_in_allowed,
    count_registration,
    do_change_password,
    do_register_user,
    record_sign_in_failure,
)
from .authentication import client_ip
from .invites import get_live_invite
from .signals import PASSWORD_CHANGE_REASON

# What a throttled page answers: the form again, with the wait, as 429 (Too Many Requests).
TOO_MANY_REQUESTS = 429

# Where the page shows each of the action's field errors (Django's own form puts password ones on the confirmation).
FORM_FIELDS = {"username": "username", "password": "password2"}


class RegistrationForm(BaseUserCreationForm):
    """Django's creation form for its fields and the page-only "type it twice" check.

    ``BaseUserCreationForm``, not ``UserCreationForm``: the taken-username and
    password rules are ``accounts.actions.check_registration``'s, not the form's.
    """

    display_name = forms.CharField(max_length=80, required=False)
    invite: str | None = None  # a server invitation's code (the join page), passed on to the actions

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "display_name")

    def clean(self) -> dict:
        cleaned = super().clean()
        username, password = cleaned.get("username"), cleaned.get("password1")
        if username and password and not self.has_error("password2"):
            try:
                check_registration(username, password, cleaned.get("display_name", ""), self.invite)
            except ActionError as error:
                self.add_action_error(error)
        return cleaned

    def validate_password_for_user(self, user, password_field_name: str = "password2") -> None:
        """Nothing: ``clean`` ran the password validators through ``check_registration``."""

    def add_action_error(self, error: ActionError) -> None:
        """Show the action's refusal on the field it names; one without a field (closed meanwhile) on the form."""
        fields = error.extra.get("fields")
        if fields is None:
            self.add_error(None, error.message)
            return
        for field, messages in fields.items():
            self.add_error(FORM_FIELDS[field], messages)

    def save(self, commit: bool = True) -> AbstractBaseUser:
        return do_register_user(
            self.cleaned_data["username"],
            self.cleaned_data["password1"],
            self.cleaned_data.get("display_name", ""),
            self.invite,
        )


def register(request: HttpRequest) -> HttpResponse:
    try:
        check_registration_open()
    except ActionError:
        return render(request, "registration/closed.html", status=403)
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = RegistrationForm(request.POST or None)
    context = {"form": form, "next": next_url if next_url != "/" else ""}
    if request.method == "POST":
        ip = client_ip(request)
        try:
            check_registration_rate(ip)
        except ActionError as error:
            form.add_error(None, error.message)
            return render(request, "registration/register.html", context, status=TOO_MANY_REQUESTS)
        if form.is_valid():
            try:
                user = form.save()
            except ActionError as error:  # a concurrent registration took the name after the check
                form.add_action_error(error)
            else:
                count_registration(ip)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(next_url)
    return render(request, "registration/register.html", context)


def safe_next(request: HttpRequest) -> str:
    """Where to go after registering (``?next=``, as sign-in has it: a room invitation's page), if it is on
    this site; "/" otherwise, so the page is no open redirect."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure()):
        return wanted
    return "/"


# --- Sign-in, throttled -------------------------------------------------------------------------


class ThrottledSignInMixin:
    """Django's sign-in form with accounts' sign-in limits: refused while used up, failures counted.

    ``retry_after`` is set (seconds) when the attempt was refused for the limit.
    """

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()
        ip = client_ip(self.request)
        try:
            check_sign_in_allowed(username, ip)
        except ActionError as error:
            self.retry_after = error.extra["retry_after"]
            raise ValidationError(error.message, code="rate_limited") from None
        try:
            return super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                record_sign_in_failure(username, ip)
            raise


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


def throttled_status(response: HttpResponse) -> HttpResponse:
    """A sign-in page refused for the limit answers 429 with a Retry-After header."""
    context = getattr(response, "context_data", None) or {}
    retry_after = getattr(context.get("form"), "retry_after", None)
    if retry_after:
        response.status_code = TOO_MANY_REQUESTS
        response["Retry-After"] = str(retry_after)
    return response


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: SignInForm) -> HttpResponse:
        return throttled_status(super().form_invalid(form))


# --- Password change and reset -------------------------------------------------------------------


class PasswordChangePageForm(forms.Form):
    """The page's fields; the rules are ``accounts.actions.check_password_change``'s, run by the view."""

    old_password = forms.CharField(
        strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password1 = forms.CharField(
        strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    new_password2 = forms.CharField(
        strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("new_password1") and cleaned.get("new_password1") != cleaned.get("new_password2"):
            self.add_error("new_password2", "The two new passwords differ.")
        return cleaned


# Where the page shows each of the action's field errors.
PASSWORD_FORM_FIELDS = {"old_password": "old_password", "new_password": "new_password2"}


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    """Change your password here: this browser stays signed in, every other session, token and socket ends."""
    form = PasswordChangePageForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            do_change_password(
                request.user,
                form.cleaned_data["old_password"],
                form.cleaned_data["new_password1"],
                ip=client_ip(request),
            )
        except ActionError as error:
            fields = error.extra.get("fields")
            if fields is None:
                form.add_error(None, error.message)
                status = TOO_MANY_REQUESTS if error.code == "rate_limited" else 400
            else:
                for field, messages in fields.items():
                    form.add_error(PASSWORD_FORM_FIELDS[field], messages)
        else:
            update_session_auth_hash(request, request.user)
            return redirect("password-change-done")
    return render(request, "accounts/password_change.html", {"form": form}, status=status)


@login_required
def password_change_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_change_done.html")


class ResetPasswordForm(SetPasswordForm):
    """Django's reset form; the saved password ends every session with the reset's own reason."""

    def save(self, commit: bool = True) -> AbstractBaseUser:
        setattr(self.user, PASSWORD_CHANGE_REASON, PASSWORD_RESET)
        return super().save(commit)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = ResetPasswordForm
    success_url = reverse_lazy("password_reset_complete")


def join(request: HttpRequest, code: str) -> HttpResponse:
    """A server invitation's link: the registration form while the code is live, 404 otherwise (whatever the reason).

    Registers through the same ``do_register_user`` as the register page,
    with the code, which counts one use; open registration is not needed.
    """
    try:
        get_live_invite(code)
    except ActionError:
        raise Http404("No such invitation.") from None
    if request.user.is_authenticated:
        return redirect("/")
    form = RegistrationForm(request.POST or None)
    form.invite = code
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except ActionError as error:  # the name was taken, or the last use went to someone else, after the check
            form.add_action_error(error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    return render(request, "accounts/join.html", {"form": form})


# --- Avatars and the profile page ----------------------------------------------------------------

AVATAR_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# The key changes with every new avatar, so what a path serves never changes.
AVATAR_CACHE_CONTROL = "public, max-age=31536000, immutable"


def avatar(request: HttpRequest, key: str, side: int) -> FileResponse:
    """One rendition of an avatar (``core.payloads.avatar_path``), from the default storage.

    Served without sign-in, as avatars are in Slack or GitHub: the random key is
    the capability, known only to who was sent a user object carrying it. No
    query: the key names the file.
    """
    if side not in profile.AVATAR_SIDES or not AVATAR_KEY.match(key):
        raise Http404("No such avatar.")
    try:
        stored = default_storage.open(profile.avatar_storage_name(key, side), "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such avatar.") from None
    response = FileResponse(stored, content_type="image/webp")
    response["Cache-Control"] = AVATAR_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def profile_page(request: HttpRequest) -> HttpResponse:
    """``/profile/``: the display name, the avatar (upload or remove), status, and a link to the password page.

    Works without the chat's scripts: each form posts here and goes through the
    same actions as the API (``accounts.profile.update_profile``; an avatar is
    first an upload, ``uploads.actions.create_upload``, with its limits and quota;
    status through ``presence.actions.update_status``). A refusal shows its message
    with the action's status; a success redirects back here (post/redirect/get).
    """
    user = request.user
    display_name = user.display_name
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "display_name":
                display_name = request.POST.get("display_name", "")  # shown again if refused
                profile.update_profile(user, {"display_name": display_name})
                done = "Your display name is saved."
            elif action == "avatar":
                done = _save_avatar_from_page(request)
            elif action == "remove_avatar":
                profile.update_profile(user, {"avatar": None})
                done = "Your picture is removed."
            elif action == "status":
                presence_actions.update_status(user, _status_from_page(request))
                done = "Your status is saved."
            else:
                raise ActionError("invalid", "Unknown action.")
        except ActionError as refusal:
            error, status = refusal.message, refusal.status
        else:
            page_messages.success(request, done)
            # The user menu's status form comes back to the page it was on.
            return redirect(safe_next(request) if request.POST.get("next") else "profile")
    context = {
        "me": user_payload(user),
        "display_name": display_name,
        "display_name_max": profile.DISPLAY_NAME_MAX,
        "presence": presence_actions.my_presence(user),
        "statuses": presence_actions.STATUS_CHOICES,
        "clear_after_choices": presence_actions.CLEAR_AFTER_CHOICES,
        "error": error,
    }
    return render(request, "accounts/profile.html", context, status=status)


def _save_avatar_from_page(request: HttpRequest) -> str:
    files = request.FILES.getlist("avatar")
    if len(files) != 1:
        raise ActionError("invalid", "Choose one picture to upload.")
    uploaded = files[0]
    # Before the upload is stored: a picture the profile budget would refuse is not kept either.
    check_budget_free(request.user.id, "profile")
    try:
        if uploaded.size > settings.UPLOAD_MAX_BYTES:
            raise ActionError("too_large", f"The picture is larger than {settings.UPLOAD_MAX_BYTES:,} bytes.")
        upload = create_upload(request.user, uploaded, uploaded.name)
    finally:
        uploaded.close()
    profile.update_profile(request.user, {"avatar": upload.id})
    return "Your picture is saved."


def _status_from_page(request: HttpRequest) -> dict[str, Any]:
    """The status form's fields as the action's input: an empty "clear after" keeps the status until changed."""
    data: dict[str, Any] = {
        "status": request.POST.get("status", ""),
        "status_text": request.POST.get("status_text", ""),
    }
    clear_after = request.POST.get("clear_after", "")
    data["clear_after"] = None if clear_after in ("", "never") else clear_after
    return data
