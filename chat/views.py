"""The chat pages: the room list and the room view.

Both render one app-like layout (a sidebar of rooms next to the main pane)
from the same payloads the API and the socket send, so the page shows the
rooms and the recent history before any script runs. The scripts get the
same data through a ``json_script`` block (the CSP forbids inline scripts;
JSON in a ``<script type="application/json">`` is data, not code).
"""

from __future__ import annotations

import html
from typing import Any

from django.conf import settings
from django.contrib import messages as page_messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from core.errors import ActionError
from core.payloads import iso, user_payload

from . import actions, queries
from .models import Room, RoomMember
from .rendering import render_body


def direct_peers(rooms: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The other member of each direct room, as the room summaries name it."""
    return {room["id"]: room["peer"] for room in rooms if room.get("peer")}


def room_title(room: dict[str, Any], peers: dict[int, dict[str, Any]]) -> str:
    if room["kind"] == Room.Kind.DIRECT:
        peer = peers.get(room["id"])
        return peer["display_name"] if peer else "Direct chat"
    return room["name"] or "Untitled room"


def room_preview(room: dict[str, Any], me_id: int) -> str:
    """The room list's one line: the last message as plain text (its markdown rendered, then its text),
    as static/confab/text.js words it for the rooms that change while the page is open."""
    last = room.get("last_message")
    if not last:
        return room.get("topic") or "No messages yet"
    if last["deleted"]:
        return "Message deleted"
    text = " ".join(html.unescape(strip_tags(render_body(last["body"] or "", last["kind"]))).split())
    text = text or ("Photo" if last["kind"] == "image" else "Attachment")
    sender = last.get("sender")
    mine = bool(sender) and sender["id"] == me_id
    if sender and (room["kind"] == Room.Kind.GROUP or mine):
        text = f"{'You' if mine else sender['display_name']}: {text}"
    return text[:120]


def sidebar_entries(rooms: list[dict[str, Any]], peers: dict[int, dict[str, Any]], me_id: int) -> list[dict[str, Any]]:
    return [
        {
            "room": room,
            "title": room_title(room, peers),
            "peer": peers.get(room["id"]),
            "preview": room_preview(room, me_id),
        }
        for room in rooms
    ]


def page_context(request: HttpRequest, *, room: dict[str, Any] | None = None, history=None) -> dict[str, Any]:
    """What both pages render: the sidebar, and the bootstrap data for the scripts."""
    rooms = queries.rooms_for_user(request.user)
    peers = direct_peers(rooms)
    me = user_payload(request.user)
    return {
        "me": me,
        "sidebar": sidebar_entries(rooms, peers, request.user.pk),
        "room": room,
        "room_title": room_title(room, peers) if room else "",
        "peer": peers.get(room["id"]) if room else None,
        "history": history,
        "bootstrap": {
            "me": me,
            "rooms": rooms,
            "peers": {str(room_id): peer for room_id, peer in peers.items()},
            "room": room,
            "history": history,
            # Moderators may delete any message and remove members of any room (docs/protocol.md, Moderation).
            "moderator": actions.is_moderator(request.user),
            "ws_path": "/ws/chat/",
            # Passed as `since` to the first `sync`: changes made after the page was rendered come back.
            "server_time": iso(timezone.now()),
            "api": "/api/v1/",
        },
    }


@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/room_list.html", page_context(request))


@login_required
def room_view(request: HttpRequest, room_id: int) -> HttpResponse:
    try:
        membership = actions.get_membership(request.user, room_id)
    except ActionError:
        raise Http404("Room not found.") from None
    return render(
        request,
        "chat/room.html",
        page_context(
            request,
            room=queries.room_detail(membership),
            history=queries.history_page(membership.room, limit=50),
        ),
    )


def invite(request: HttpRequest, code: str) -> HttpResponse:
    """A room invitation's link: the room's name, topic and member count, and a Join button.

    Anyone holding a live link sees the room's card (the link is the secret);
    someone signed out is offered sign-in or registration, each sending them
    back here (``?next=``). Joining (POST, CSRF) goes through the same
    ``accept_room_invite`` as the API and lands in the room. A code that is
    not live is a 404 whatever the reason.
    """
    try:
        invitation = actions.get_live_room_invite(code)
    except ActionError:
        raise Http404("No such invitation.") from None
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.path)
        try:
            detail = actions.accept_room_invite(request.user, code)
        except ActionError as error:
            if error.code == "not_found":  # used up or revoked since the page was shown
                raise Http404("No such invitation.") from None
            return _invite_page(request, invitation, error=error.message, status=error.status)
        return redirect("room", room_id=detail["id"])
    return _invite_page(request, invitation)


def _invite_page(request: HttpRequest, invitation, *, error: str = "", status: int = 200) -> HttpResponse:
    room = invitation.room
    member = request.user.is_authenticated and RoomMember.objects.filter(room=room, user=request.user).exists()
    context = {
        "room": room,
        "member_count": queries.member_count(room.id),
        "already_member": member,
        "error": error,
        "registration_open": settings.REGISTRATION_OPEN,
    }
    return render(request, "chat/invite.html", context, status=status)


# The page's choices of lifetime (seconds, as ``expires_in`` takes them), the default first.
INVITE_LIFETIMES = [("604800", "7 days"), ("3600", "1 hour"), ("86400", "1 day"), ("2592000", "30 days")]


@login_required
def room_invites(request: HttpRequest, room_id: int) -> HttpResponse:
    """``/rooms/<id>/invites/``: a room admin's invitation links, made and revoked here without the chat's scripts.

    The same actions as the API (``create_room_invite``, ``revoke_room_invite``,
    ``room_invites``): a room the caller is not in is a 404 page, a member who is
    not an admin gets the 403 page. A refusal (a bad number, the live limit, a
    budget) shows its message with its status; a success redirects back.
    """
    try:
        membership = actions.get_membership(request.user, room_id)
        invites = actions.room_invites(request.user, room_id)
    except ActionError as error:
        if error.code == "not_found":
            raise Http404("Room not found.") from None
        return render(request, "chat/room_invites_forbidden.html", {"message": error.message}, status=error.status)
    error_message, status = "", 200
    if request.method == "POST":
        try:
            done = _change_invites(request, room_id)
        except ActionError as error:
            error_message, status = error.message, error.status
        else:
            page_messages.success(request, done)
            return redirect("room-invites-page", room_id=room_id)
    context = {
        "room": membership.room,
        "invites": [
            {"invite": invite, "url": request.build_absolute_uri(reverse("room-invite", args=[invite.code]))}
            for invite in invites
        ],
        "lifetimes": INVITE_LIFETIMES,
        "error": error_message,
    }
    return render(request, "chat/room_invites.html", context, status=status)


def _change_invites(request: HttpRequest, room_id: int) -> str:
    action = request.POST.get("action")
    if action == "create":
        max_uses = request.POST.get("max_uses", "").strip() or None
        invite = actions.create_room_invite(
            request.user, room_id, max_uses=max_uses, expires_in=request.POST.get("expires_in") or None
        )
        return f"New link: {request.build_absolute_uri(reverse('room-invite', args=[invite.code]))}"
    if action == "revoke":
        actions.revoke_room_invite(request.user, request.POST.get("code", ""))
        return "The link is revoked: it lets nobody in any more."
    raise ActionError("invalid", "Unknown action.")
