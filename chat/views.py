"""The chat pages: the room list and the room view.

Both render one app-like layout (a sidebar of rooms next to the main pane)
from the same payloads the API and the socket send, so the page shows the
rooms and the recent history before any script runs. The scripts get the
same data through a ``json_script`` block (the CSP forbids inline scripts;
JSON in a ``<script type="application/json">`` is data, not code).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from core.errors import ActionError
from core.payloads import iso, user_payload

from . import actions, queries
from .models import Room, RoomMember


def direct_peers(rooms: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The other member of each direct room, as the room summaries name it."""
    return {room["id"]: room["peer"] for room in rooms if room.get("peer")}


def room_title(room: dict[str, Any], peers: dict[int, dict[str, Any]]) -> str:
    if room["kind"] == Room.Kind.DIRECT:
        peer = peers.get(room["id"])
        return peer["display_name"] if peer else "Direct chat"
    return room["name"] or "Untitled room"


def sidebar_entries(rooms: list[dict[str, Any]], peers: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"room": room, "title": room_title(room, peers), "peer": peers.get(room["id"])} for room in rooms]


def page_context(request: HttpRequest, *, room: dict[str, Any] | None = None, history=None) -> dict[str, Any]:
    """What both pages render: the sidebar, and the bootstrap data for the scripts."""
    rooms = queries.rooms_for_user(request.user)
    peers = direct_peers(rooms)
    me = user_payload(request.user)
    return {
        "me": me,
        "sidebar": sidebar_entries(rooms, peers),
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
