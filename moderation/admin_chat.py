"""Rooms and messages in Django admin, for moderators.

Registered by the moderation app (``moderation.admin`` imports this module),
not by chat: the admin is a moderation front end, and chat never imports
moderation.

Admin shows; it does not write. Messages and memberships are read-only here,
and every change goes through ``moderation.actions`` (which calls the
``chat.actions`` check_* and do_*), so the room sees exactly the live events
a member's own action would cause and each change is in the audit log.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from chat.models import Message, Reaction, Room, RoomMember
from chat.permissions import is_moderator

from . import actions as moderation
from .admin_tools import ModerationMixin, MuteForm, ReasonForm, confirm_action, confirm_view, run_each


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class RoomMemberInline(ReadOnlyMixin, admin.TabularInline):
    model = RoomMember
    extra = 0
    fields = ("user", "role", "joined_at", "last_read_seq", "send_muted_until", "moderate")
    readonly_fields = fields
    ordering = ("joined_at",)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or is_moderator(request.user)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("user")

    @admin.display(description="Moderate")
    def moderate(self, member: RoomMember) -> str:
        if member.pk is None:
            return "-"
        args = [member.room_id, member.user_id]
        links = [
            (reverse("admin:chat_room_member_mute", args=args), "Mute"),
            (reverse("admin:chat_room_member_remove", args=args), "Remove"),
        ]
        if member.send_muted_until is not None:
            links.insert(1, (reverse("admin:chat_room_member_unmute", args=args), "Unmute"))
        return format_html_join(" | ", '<a href="{}">{}</a>', links)


@admin.register(Room)
class RoomAdmin(ModerationMixin, admin.ModelAdmin):
    list_display = ("id", "name", "kind", "is_public", "archived", "last_seq", "messages", "created_at")
    list_filter = ("kind", "is_public", "archived")
    search_fields = ("name", "topic")
    readonly_fields = ("last_seq", "messages", "direct_key", "created_at", "last_message_at", "created_by")

    @admin.display(description="Messages")
    def messages(self, room: Room) -> str:
        if room.pk is None:
            return "-"
        url = reverse("admin:chat_message_changelist") + f"?room__id__exact={room.pk}"
        return format_html('<a href="{}">{} message(s)</a>', url, room.last_seq)

    inlines = [RoomMemberInline]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:room_id>/members/<int:user_id>/remove/",
                view(self.remove_member_view),
                name="chat_room_member_remove",
            ),
            path(
                "<int:room_id>/members/<int:user_id>/mute/", view(self.mute_member_view), name="chat_room_member_mute"
            ),
            path(
                "<int:room_id>/members/<int:user_id>/unmute/",
                view(self.unmute_member_view),
                name="chat_room_member_unmute",
            ),
            *super().get_urls(),
        ]

    def _member(self, request: HttpRequest, room_id: int, user_id: int) -> RoomMember:
        self.require_moderator(request)
        return get_object_or_404(RoomMember.objects.select_related("room", "user"), room_id=room_id, user_id=user_id)

    def _back(self, room_id: int) -> str:
        return reverse("admin:chat_room_change", args=[room_id])

    def remove_member_view(self, request: HttpRequest, room_id: int, user_id: int):
        member = self._member(request, room_id, user_id)
        return confirm_view(
            self,
            request,
            form_class=ReasonForm,
            title="Remove member",
            subject=f"Remove {member.user} from {member.room}?",
            submit="Remove",
            run=lambda data: moderation.remove_member(request.user, room_id, user_id, data["reason"]),
            done=f"{member.user} was removed from {member.room}.",
            back_url=self._back(room_id),
        )

    def mute_member_view(self, request: HttpRequest, room_id: int, user_id: int):
        member = self._member(request, room_id, user_id)
        return confirm_view(
            self,
            request,
            form_class=MuteForm,
            title="Mute member",
            subject=f"Stop {member.user} sending messages in {member.room} for a while?",
            submit="Mute",
            run=lambda data: moderation.mute_member(
                request.user, room_id, user_id, minutes=data["minutes"], reason=data["reason"]
            ),
            done=f"{member.user} is muted in {member.room}.",
            back_url=self._back(room_id),
        )

    def unmute_member_view(self, request: HttpRequest, room_id: int, user_id: int):
        member = self._member(request, room_id, user_id)
        return confirm_view(
            self,
            request,
            form_class=ReasonForm,
            title="Unmute member",
            subject=f"Let {member.user} send messages in {member.room} again?",
            submit="Unmute",
            run=lambda data: moderation.unmute_member(request.user, room_id, user_id, data["reason"]),
            done=f"{member.user} may send in {member.room} again.",
            back_url=self._back(room_id),
        )


# --- Messages ------------------------------------------------------------------------


@admin.action(description="Soft-delete selected messages", permissions=["moderate"])
def soft_delete(modeladmin, request, queryset):
    return confirm_action(
        modeladmin,
        request,
        queryset,
        form_class=ReasonForm,
        title="Delete messages",
        submit="Delete",
        run=lambda message, data: moderation.delete_message(request.user, message.pk, data["reason"]),
        done="message(s) deleted",
    )


@admin.action(description="Restore selected messages", permissions=["moderate"])
def restore(modeladmin, request, queryset):
    return confirm_action(
        modeladmin,
        request,
        queryset,
        form_class=ReasonForm,
        title="Restore messages",
        submit="Restore",
        run=lambda message, data: moderation.restore_message(request.user, message.pk, data["reason"]),
        done="message(s) restored",
    )


@admin.action(description="Pin selected messages", permissions=["moderate"])
def pin(modeladmin, request, queryset):
    run_each(modeladmin, request, queryset, lambda m: moderation.set_pinned(request.user, m.pk, True), "pinned")


@admin.action(description="Unpin selected messages", permissions=["moderate"])
def unpin(modeladmin, request, queryset):
    run_each(modeladmin, request, queryset, lambda m: moderation.set_pinned(request.user, m.pk, False), "unpinned")


@admin.register(Message)
class MessageAdmin(ModerationMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "room", "seq", "sender", "kind", "short_body", "pinned", "deleted_at", "created_at")
    list_filter = (
        ("deleted_at", admin.EmptyFieldListFilter),
        "pinned",
        "kind",
        "created_at",
    )
    # Text, sender and room by name; `?room__id__exact=` and `?sender__id__exact=` filter exactly (the
    # room and user pages link here). No list filter of rooms or senders: it would scan every message.
    search_fields = ("body", "sender__username", "sender__display_name", "room__name")
    search_help_text = "Searches the text, the sender's username or display name, and the room name."
    date_hierarchy = "created_at"
    fields = (
        "room",
        "seq",
        "sender",
        "kind",
        "body",
        "reply_to",
        "pinned",
        "pinned_by",
        "pinned_at",
        "edited_at",
        "deleted_at",
        "deleted_by",
        "created_at",
        "client_id",
        "context",
    )
    readonly_fields = fields
    actions = [soft_delete, restore, pin, unpin]
    list_select_related = ("room", "sender")
    show_full_result_count = False  # no COUNT(*) over the whole table on every page

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return obj.body[:80]

    @admin.display(description="Around it")
    def context(self, obj: Message) -> str:
        return message_context(obj)


def message_name(message_id: int) -> str:
    """How the admin names a message, everywhere: by its id ("Message 11"), as its own page and the reports do."""
    return f"Message {message_id}"


def message_context(message: Message, radius: int = 3) -> str:
    """The messages around one (by seq in its room), as an HTML table; the message itself is bold."""
    around = (
        Message.objects.filter(room_id=message.room_id, seq__gte=message.seq - radius, seq__lte=message.seq + radius)
        .select_related("sender")
        .order_by("seq")
    )
    rows = []
    for other in around:
        marker = "font-weight:bold;background:#fff3cd" if other.pk == message.pk else ""
        state = " (deleted)" if other.deleted_at else ""
        rows.append(
            (
                marker,
                reverse("admin:chat_message_change", args=[other.pk]),
                message_name(other.pk),
                other.sender or "-",
                other.created_at.strftime("%Y-%m-%d %H:%M"),
                other.body[:300],
                state,
            )
        )
    body = format_html_join(
        "",
        '<tr style="{}"><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}{}</td></tr>',
        rows,
    )
    return format_html("<table>{}</table>", body)


@admin.register(Reaction)
class ReactionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "message", "user", "emoji", "created_at")
    list_select_related = ("user",)
    raw_id_fields = ("message", "user")
