"""Moderation in Django admin. State changes go through ``chat.actions``,
so the room sees exactly the events a member's own action would cause."""

from django.contrib import admin, messages

from . import actions
from .errors import ActionError
from .models import Message, Reaction, Room, RoomMember


class RoomMemberInline(admin.TabularInline):
    model = RoomMember
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "joined_at", "last_read_seq", "muted", "notify_level", "send_muted_until")
    readonly_fields = ("joined_at", "last_read_seq")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "is_public", "archived", "last_seq", "created_at")
    list_filter = ("kind", "is_public", "archived")
    search_fields = ("name", "topic")
    readonly_fields = ("last_seq", "direct_key", "created_at", "last_message_at")
    inlines = [RoomMemberInline]


def _run_for_each(modeladmin, request, queryset, action, done: str) -> None:
    count = 0
    for message in queryset:
        try:
            action(request.user, message.pk)
            count += 1
        except ActionError as error:
            modeladmin.message_user(request, f"#{message.pk}: {error.message}", level=messages.WARNING)
    modeladmin.message_user(request, f"{count} message(s) {done}.")


@admin.action(description="Soft-delete selected messages")
def soft_delete(modeladmin, request, queryset):
    _run_for_each(modeladmin, request, queryset, actions.delete_message, "deleted")


@admin.action(description="Restore selected messages")
def restore(modeladmin, request, queryset):
    _run_for_each(modeladmin, request, queryset, actions.restore_message, "restored")


@admin.action(description="Pin selected messages")
def pin(modeladmin, request, queryset):
    _run_for_each(modeladmin, request, queryset, lambda user, pk: actions.set_pinned(user, pk, True), "pinned")


@admin.action(description="Unpin selected messages")
def unpin(modeladmin, request, queryset):
    _run_for_each(modeladmin, request, queryset, lambda user, pk: actions.set_pinned(user, pk, False), "unpinned")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "seq", "sender", "kind", "short_body", "pinned", "deleted_at", "created_at")
    list_filter = ("kind", "pinned", ("deleted_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("body", "sender__username", "room__name")
    date_hierarchy = "created_at"
    raw_id_fields = ("room", "sender", "reply_to", "pinned_by", "deleted_by")
    readonly_fields = (
        "room",
        "seq",
        "sender",
        "body_html",
        "client_id",
        "created_at",
        "edited_at",
        "deleted_at",
        "deleted_by",
        "pinned_by",
        "pinned_at",
    )
    actions = [soft_delete, restore, pin, unpin]
    list_select_related = ("room", "sender")

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return obj.body[:80]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ("id", "message", "user", "emoji", "created_at")
    raw_id_fields = ("message", "user")
