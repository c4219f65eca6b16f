"""The chat pages: the room list and the room view."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import actions, queries
from .errors import ActionError


@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/room_list.html", {"rooms": queries.rooms_for_user(request.user)})


@login_required
def room_view(request: HttpRequest, room_id: int) -> HttpResponse:
    try:
        membership = actions.get_membership(request.user, room_id)
    except ActionError:
        raise Http404("Room not found.") from None
    return render(
        request,
        "chat/room.html",
        {
            "room": queries.room_detail(membership),
            "rooms": queries.rooms_for_user(request.user),
            "history": queries.history_page(membership.room_id, limit=50),
        },
    )
