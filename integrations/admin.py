"""Integrations in Django admin: read-only records, with staff's one power, revoking.

Tokens and webhooks are made by their owners and room admins (REST); staff
see them (never a secret: only hashes are stored) and revoke them through the
same ``do_revoke_*`` the owners' requests run. Deliveries are the record of
what was sent, retried and given up.
"""

from __future__ import annotations

from django.contrib import admin, messages

from . import actions
from .models import BotToken, Delivery, IncomingWebhook, OutgoingWebhook


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _revoke(do_revoke):
    def revoke(modeladmin, request, queryset):
        live = list(queryset.filter(revoked_at__isnull=True))
        for item in live:
            do_revoke(item)
        modeladmin.message_user(request, f"{len(live)} revoked.", level=messages.SUCCESS)

    revoke.short_description = "Revoke the selected ones"
    revoke.allowed_permissions = ("view",)
    return revoke


@admin.register(BotToken)
class BotTokenAdmin(ReadOnly):
    list_display = ("name", "bot", "hint", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("bot",)
    search_fields = ("name", "bot__username")
    exclude = ("token_hash",)
    actions = [_revoke(actions.do_revoke_token)]


@admin.register(IncomingWebhook)
class IncomingWebhookAdmin(ReadOnly):
    list_display = ("name", "room", "bot", "created_by", "created_at", "revoked_at")
    list_select_related = ("room", "bot", "created_by")
    exclude = ("token_hash",)
    actions = [_revoke(actions.do_revoke_incoming_webhook)]


@admin.register(OutgoingWebhook)
class OutgoingWebhookAdmin(ReadOnly):
    list_display = ("name", "room", "trigger", "trigger_word", "url", "dropped", "created_at", "revoked_at")
    list_select_related = ("room",)
    exclude = ("secret",)
    actions = [_revoke(actions.do_revoke_outgoing_webhook)]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ("id", "webhook", "status", "attempts", "response_status", "last_error", "created_at")
    list_filter = ("status",)
    list_select_related = ("webhook",)
