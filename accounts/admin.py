"""Accounts in Django admin: the admin's throttled sign-in and server invitations.

The user admin (suspension, a user's uploads) is moderation's, in
``moderation/admin_accounts.py``: every action on it is a moderation action.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from core.errors import ActionError

from . import invites
from .models import ServerInvite
from .views import AdminSignInForm, throttled_status

# The admin's sign-in counts against the same sign-in limits as the page and the API.
admin.site.login_form = AdminSignInForm
_admin_login = admin.site.login


def throttled_admin_login(request: HttpRequest, extra_context=None):
    response = _admin_login(request, extra_context)
    return throttled_status(response) if request.method == "POST" else response


admin.site.login = throttled_admin_login


@admin.register(ServerInvite)
class ServerInviteAdmin(admin.ModelAdmin):
    """Server invitations: staff make them here (or through the API) and hand out the link.

    The code is generated, uses are counted by registrations, and revoking
    goes through ``accounts.invites.revoke_invite``, as the API does.
    """

    list_display = ("code", "join_link", "created_by", "uses", "max_uses", "expires_at", "revoked_at", "live")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    readonly_fields = ("code", "join_link", "uses", "created_by", "revoked_at", "created_at")
    fields = ("code", "join_link", "max_uses", "expires_at", "uses", "created_by", "revoked_at", "created_at")
    actions = ["revoke_selected"]

    @admin.display(description="Link")
    def join_link(self, invite: ServerInvite) -> str:
        if invite.pk is None:
            return "-"
        return format_html('<a href="{0}">{0}</a>', invites.join_path(invite))

    @admin.display(boolean=True, description="Live")
    def live(self, invite: ServerInvite) -> bool:
        return invite.is_live(timezone.now())

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if change:
            return form_class

        class NewInvitationForm(form_class):
            def clean(self):
                """Who may make one, and within their budget: refused here, the form says why."""
                cleaned = super().clean()
                if not self.errors:
                    try:
                        invites.check_invite_creator(request.user)
                        invites.take_invite_slot(request.user)
                    except ActionError as error:
                        raise forms.ValidationError(error.message) from None
                return cleaned

        return NewInvitationForm

    def save_model(self, request: HttpRequest, obj: ServerInvite, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected invitations")
    def revoke_selected(self, request: HttpRequest, queryset) -> None:
        revoked = 0
        for code in queryset.filter(revoked_at__isnull=True).values_list("code", flat=True):
            try:
                invites.revoke_invite(request.user, code)
            except ActionError as error:
                self.message_user(request, error.message, level=messages.ERROR)
                return
            revoked += 1
        self.message_user(request, f"{revoked} invitation(s) revoked.")
