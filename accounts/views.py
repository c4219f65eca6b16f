"""Sign-in, sign-out and registration pages."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .api import USERNAME_HELP, USERNAME_PATTERN, UsernameTaken, register_user


class RegistrationForm(UserCreationForm):
    display_name = forms.CharField(max_length=80, required=False)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "display_name")

    def clean_username(self) -> str:
        username = super().clean_username()  # None when taken (the error is already added)
        if username and not re.match(USERNAME_PATTERN, username):
            raise forms.ValidationError(USERNAME_HELP)
        return username

    def save(self, commit: bool = True):
        return register_user(
            self.cleaned_data["username"], self.cleaned_data["password1"], self.cleaned_data.get("display_name", "")
        )


def register(request: HttpRequest) -> HttpResponse:
    if not settings.REGISTRATION_OPEN:
        return render(request, "registration/closed.html", status=403)
    if request.user.is_authenticated:
        return redirect("/")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except UsernameTaken:
            form.add_error("username", "That username is taken.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    return render(request, "registration/register.html", {"form": form})
