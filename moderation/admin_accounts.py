"""Users in Django admin: suspension and a user's uploads, for moderators.

Moderators see users (``view_user``) but cannot edit them: ``change_user``
would let them grant groups and permissions. They suspend and unsuspend
through the admin actions here, and remove uploads from the user's page;
both go through ``moderation.actions`` (audited, live effects). It lives in
moderation, like the chat admin, because every button on it is a moderation
action; accounts keeps the admin sign-in and server invitations.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.models import User
from core.errors import ActionError
from uploads.models import Upload

from . import actions as moderation
from .admin_tools import ModerationMixin, ReasonForm, confirm_action, confirm_view

UPLOADS_SHOWN = 50


@admin.action(description="Suspend selected users (sign out everywhere)", permissions=["moderate"])
def suspend(modeladmin, request, queryset):
    return confirm_action(
        modeladmin,
        request,
        queryset,
        form_class=ReasonForm,
        title="Suspend users",
        submit="Suspend",
        run=lambda user, data: moderation.suspend_user(request.user, user.pk, data["reason"]),
        done="user(s) suspended",
    )


@admin.action(description="Lift the suspension of selected users", permissions=["moderate"])
def unsuspend(modeladmin, request, queryset):
    return confirm_action(
        modeladmin,
        request,
        queryset,
        form_class=ReasonForm,
        title="Lift suspensions",
        submit="Unsuspend",
        run=lambda user, data: moderation.unsuspend_user(request.user, user.pk, data["reason"]),
        done="user(s) unsuspended",
    )


@admin.register(User)
class ConfabUserAdmin(ModerationMixin, UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Confab", {"fields": ("display_name",)}),
        ("Messages and uploads", {"fields": ("messages_link", "uploads_overview")}),
    )
    readonly_fields = ("messages_link", "uploads_overview")
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("username", "display_name", "email")
    actions = [suspend, unsuspend]

    def get_urls(self):
        return [
            path(
                "<int:user_id>/uploads/<int:upload_id>/remove/",
                self.admin_site.admin_view(self.remove_upload_view),
                name="accounts_user_upload_remove",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Messages")
    def messages_link(self, user: User) -> str:
        if user.pk is None:
            return "-"
        url = reverse("admin:chat_message_changelist") + f"?sender__id__exact={user.pk}"
        return format_html('<a href="{}">Messages sent by {}</a>', url, user.username)

    @admin.display(description="Latest uploads")
    def uploads_overview(self, user: User) -> str:
        if user.pk is None:
            return "-"
        uploads = list(Upload.objects.filter(owner=user).order_by("-created_at", "-id")[:UPLOADS_SHOWN])
        if not uploads:
            return "No uploads."
        rows = []
        for upload in uploads:
            if upload.removed_at:
                state = format_html("removed {}", upload.removed_at.strftime("%Y-%m-%d %H:%M"))
            else:
                state = format_html(
                    '<a href="{}">Remove</a>',
                    reverse("admin:accounts_user_upload_remove", args=[user.pk, upload.pk]),
                )
            message = (
                format_html(
                    '<a href="{}">{}</a>', reverse("admin:chat_message_change", args=[upload.message_id]), "in message"
                )
                if upload.message_id
                else "not attached"
            )
            rows.append(
                (
                    upload.pk,
                    upload.original_name,
                    upload.content_type,
                    filesizeformat(upload.size),
                    upload.created_at.strftime("%Y-%m-%d %H:%M"),
                    message,
                    state,
                )
            )
        table = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
        )
        all_link = reverse("admin:uploads_upload_changelist") + f"?owner__id__exact={user.pk}"
        return format_html(
            '<table data-testid="user-uploads">{}</table><p><a href="{}">All uploads of this user</a></p>',
            table,
            all_link,
        )

    def remove_upload_view(self, request: HttpRequest, user_id: int, upload_id: int):
        self.require_moderator(request)
        upload = get_object_or_404(Upload, pk=upload_id, owner_id=user_id)
        return confirm_view(
            self,
            request,
            form_class=ReasonForm,
            title="Remove upload",
            subject=f"Delete the file {upload.original_name!r}? Its message will show it as removed.",
            submit="Remove",
            run=lambda data: moderation.remove_upload(request.user, upload.pk, data["reason"]),
            done=f"{upload.original_name} was removed.",
            back_url=reverse("admin:accounts_user_change", args=[user_id]),
        )

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        """A superuser unticking "active" suspends for real: sockets close and it is audited."""
        if change and "is_active" in form.changed_data:
            wanted = obj.is_active
            obj.is_active = not wanted
            super().save_model(request, obj, form, change)
            try:
                if wanted:
                    moderation.unsuspend_user(request.user, obj.pk, "Reactivated in the user form.")
                else:
                    moderation.suspend_user(request.user, obj.pk, "Deactivated in the user form.")
            except ActionError as error:
                self.message_user(request, error.message, level=messages.ERROR)
            else:
                obj.is_active = wanted
            return
        super().save_model(request, obj, form, change)
