"""Sign-in, sign-out and registration pages."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import BaseUserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import ActionError

from .actions import check_registration, check_registration_open, do_register_user
from .invites import get_live_invite

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
    if request.user.is_authenticated:
        return redirect("/")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except ActionError as error:  # a concurrent registration took the name after the check
            form.add_action_error(error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    return render(request, "registration/register.html", {"form": form})


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
