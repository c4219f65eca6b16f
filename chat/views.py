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

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import strip_tags

from core.errors import ActionError
from core.payloads import iso, user_payload

from . import actions, queries
from .models import Room
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
