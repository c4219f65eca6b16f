"""Shared pieces for moderation in Django admin (chat, accounts and moderation admins).

Admin is only a front end: every change goes through ``moderation.actions``,
which checks the moderator permission again, writes the audit row and
publishes the live events. Actions are offered only to moderators
(``allowed_permissions = ("moderate",)``); Django drops any other from the
action list and from what a POST may run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from chat.permissions import is_moderator
from core.errors import ActionError

from .models import AUDIT_REASON_MAX_LENGTH


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=AUDIT_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit log.",
    )


MUTE_CHOICES = [
    (10, "10 minutes"),
    (60, "1 hour"),
    (24 * 60, "1 day"),
    (7 * 24 * 60, "7 days"),
    (30 * 24 * 60, "30 days"),
]


class MuteForm(ReasonForm):
    minutes = forms.TypedChoiceField(choices=MUTE_CHOICES, coerce=int, initial=60, label="Mute for")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "Shown to the member each time they try to send; recorded in the audit log."


class ModerationMixin:
    """``has_moderate_permission`` for admin actions and moderation views."""

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)

    def require_moderator(self, request: HttpRequest) -> None:
        if not is_moderator(request.user):
            raise PermissionDenied


def run_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[Any],
    apply: Callable[[Any], Any],
    done: str,
) -> int:
    """Apply a moderation action to each object; failures are reported, not raised."""
    count = 0
    for obj in objects:
        try:
            apply(obj)
            count += 1
        except ActionError as error:
            modeladmin.message_user(request, f"{obj}: {error.message}", level=messages.WARNING)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", level=messages.SUCCESS)
    return count


def confirm_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    *,
    form_class: type[forms.Form],
    title: str,
    submit: str,
    run: Callable[[Any, dict[str, Any]], Any],
    done: str,
):
    """An admin action with a confirmation page that asks for a reason (and more, per form).

    The first POST (from the changelist) shows the page; its submit carries
    ``apply`` and runs ``run(obj, cleaned_data)`` on each selected object.
    """
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        run_each(modeladmin, request, queryset, lambda obj: run(obj, form.cleaned_data), done)
        return None  # back to the changelist
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": list(queryset[:100]),
        "count": queryset.count(),
        "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action": request.POST.get("action"),
        "form": form,
        "submit": submit,
        "opts": opts,
        "app_label": opts.app_label,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/moderation/confirm_action.html", context)


def confirm_view(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    form_class: type[forms.Form],
    title: str,
    subject: str,
    submit: str,
    run: Callable[[dict[str, Any]], Any],
    done: str,
    back_url: str,
):
    """A moderation view for one object: GET shows the form, POST runs it and goes back."""
    from django.shortcuts import redirect

    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                run(form.cleaned_data)
            except ActionError as error:
                modeladmin.message_user(request, error.message, level=messages.ERROR)
            else:
                modeladmin.message_user(request, done, level=messages.SUCCESS)
            return redirect(back_url)
    else:
        form = form_class()
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subject": subject,
        "form": form,
        "submit": submit,
        "back_url": back_url,
        "opts": opts,
        "app_label": opts.app_label,
    }
    return TemplateResponse(request, "admin/moderation/confirm_view.html", context)
