"""REST views for rooms, members, messages, reactions, pins, read marks and search.

Thin adapters: read the request, call one action or query, return its
payload. Rules live in ``chat.actions``; errors are mapped in
``core.rest``.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import body, errors
from core.validation import refuse_unknown_fields

from . import actions, emoji, queries, schema, thread_queries
from .actions.members import MEMBERSHIP_SETTINGS
from .actions.rooms import ROOM_FIELDS
from .payloads import room_invite_payload

ERRORS = errors(400, 404)  # reads of a room: a bad parameter, or a room the caller cannot see
WRITE_ERRORS = errors(400, 403, 404)


class RoomListView(APIView):
    @extend_schema(
        responses={200: schema.RoomSchema(many=True), **errors()}, summary="The caller's rooms, most recent first"
    )
    def get(self, request: Request) -> Response:
        return Response(queries.rooms_for_user(request.user))

    @extend_schema(
        request=schema.RoomCreateRequest,
        responses={201: schema.RoomSchema, **errors(400, 413)},
        summary="Create a group room",
    )
    def post(self, request: Request) -> Response:
        data = body(request)
        room = actions.create_group_room(
            request.user,
            name=data.get("name"),
            topic=data.get("topic", ""),
            is_public=data.get("is_public", False),
            members=data.get("members"),
            members_can_pin=data.get("members_can_pin", True),
        )
        return Response(room, status=status.HTTP_201_CREATED)


class PublicRoomListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=False)],
        responses={200: schema.PublicRoomSchema(many=True), **errors()},
        summary="Public group rooms the caller can join",
    )
    def get(self, request: Request) -> Response:
        return Response(queries.public_rooms(request.user, request.query_params.get("q", "")))


class RoomDetailView(APIView):
    @extend_schema(responses={200: schema.RoomDetailSchema, **ERRORS})
    def get(self, request: Request, room_id: int) -> Response:
        return Response(queries.room_detail(actions.get_membership(request.user, room_id)))

    @extend_schema(
        request=schema.RoomUpdateRequest,
        responses={200: schema.RoomSchema, **errors(400, 403, 404, 413)},
        summary="Change the room (admins) or the caller's notification settings for it",
    )
    def patch(self, request: Request, room_id: int) -> Response:
        data = dict(body(request))
        # Unknown keys are refused here, before they become keyword arguments: a `user` or `room_id`
        # key would collide with the actions' own parameters (a TypeError, a 500).
        refuse_unknown_fields(data, (*ROOM_FIELDS, *MEMBERSHIP_SETTINGS))
        personal = {key: data.pop(key) for key in MEMBERSHIP_SETTINGS if key in data}
        # One transaction: a bad personal field must not leave the room change behind.
        with transaction.atomic():
            if data:
                actions.update_room(request.user, room_id, **data)
            if personal:
                actions.update_membership_settings(request.user, room_id, **personal)
        # The answer is the room as the rooms list shows it (unread, last message).
        return Response(queries.room_summaries([actions.get_membership(request.user, room_id)])[0])

    @extend_schema(responses={204: None, **WRITE_ERRORS}, summary="Delete (archive) a group room: owner only")
    def delete(self, request: Request, room_id: int) -> Response:
        actions.archive_room(request.user, room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DirectRoomView(APIView):
    @extend_schema(
        request=schema.DirectRoomRequest,
        responses={200: schema.RoomDetailSchema, 201: schema.RoomDetailSchema, **ERRORS},
        summary="The direct room with a user: 201 when created, 200 when it existed",
    )
    def post(self, request: Request) -> Response:
        room, created = actions.get_or_create_direct_room(request.user, body(request).get("user"))
        return Response(room, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RoomMembersView(APIView):
    @extend_schema(responses={200: schema.MemberSchema(many=True), **ERRORS})
    def get(self, request: Request, room_id: int) -> Response:
        return Response(queries.room_detail(actions.get_membership(request.user, room_id))["members"])

    @extend_schema(
        request=schema.MemberAddRequest,
        responses={201: schema.MemberSchema, **errors(400, 403, 404, 409)},
        summary="Add a member (admins; anyone in a public room). Your own id joins a public room.",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = body(request)
        if str(data.get("user")) == str(request.user.id):
            detail = actions.join_room(request.user, room_id)
            joined = next(member for member in detail["members"] if member["user"]["id"] == request.user.id)
            return Response(joined, status=status.HTTP_201_CREATED)
        member = actions.add_member(request.user, room_id, data.get("user"), data.get("role", "member"))
        return Response(member, status=status.HTTP_201_CREATED)


class RoomMemberDetailView(APIView):
    @extend_schema(
        request=schema.MemberRoleRequest,
        responses={200: schema.MemberSchema, **errors(400, 403, 404, 409, 429)},
        summary="Make a member an admin or an admin a member (admins; only the owner demotes another admin)",
    )
    def patch(self, request: Request, room_id: int, user_id: int) -> Response:
        data = body(request)
        refuse_unknown_fields(data, ("role",))
        return Response(actions.set_member_role(request.user, room_id, user_id, data.get("role")))

    @extend_schema(responses={204: None, **WRITE_ERRORS}, summary="Remove a member, or leave (your own id)")
    def delete(self, request: Request, room_id: int, user_id: int) -> Response:
        actions.remove_member(request.user, room_id, user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomMessagesView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, required=False, description="Only messages with a smaller seq"),
            OpenApiParameter("after", int, required=False, description="Only messages with a larger seq"),
            OpenApiParameter("limit", int, required=False, description="1 to 100, default 50"),
        ],
        responses={200: schema.HistorySchema, **ERRORS},
        summary="A page of history, oldest first (newest page by default)",
    )
    def get(self, request: Request, room_id: int) -> Response:
        membership = actions.get_membership(request.user, room_id)
        params = request.query_params
        page = queries.history_page(
            membership.room, before=params.get("before"), after=params.get("after"), limit=params.get("limit")
        )
        return Response(page)

    @extend_schema(
        request=schema.SendMessageRequest,
        responses={200: schema.MessageSchema, 201: schema.MessageSchema, **errors(400, 403, 404, 409, 413, 429)},
        summary="Send a message (201; 200 when client_id repeats a stored one)",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = body(request)
        message, created = actions.send_message(
            request.user,
            room_id,
            body=data.get("body", ""),
            client_id=data.get("client_id"),
            reply_to=data.get("reply_to"),
            attachments=data.get("attachments"),
            kind=data.get("kind"),
            thread=data.get("thread"),
            also_to_room=data.get("also_to_room"),
        )
        return Response(message, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RoomPinsView(APIView):
    @extend_schema(responses={200: schema.MessageSchema(many=True), **ERRORS})
    def get(self, request: Request, room_id: int) -> Response:
        membership = actions.get_membership(request.user, room_id)
        return Response(queries.pinned_messages(membership.room_id))


class RoomReadView(APIView):
    @extend_schema(request=schema.ReadRequest, responses={200: schema.ReadSchema, **ERRORS})
    def post(self, request: Request, room_id: int) -> Response:
        return Response(actions.mark_as_read(request.user, room_id, body(request).get("seq")))


class MessageDetailView(APIView):
    @extend_schema(
        request=schema.EditMessageRequest,
        responses={200: schema.MessageSchema, **errors(400, 403, 404, 409, 413)},
        summary="Edit your message",
    )
    def patch(self, request: Request, message_id: int) -> Response:
        return Response(actions.edit_message(request.user, message_id, body=body(request).get("body")))

    @extend_schema(responses={204: None, **WRITE_ERRORS}, summary="Delete a message (soft)")
    def delete(self, request: Request, message_id: int) -> Response:
        actions.delete_message(request.user, message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageEditsView(APIView):
    @extend_schema(
        responses={200: schema.MessageEditsSchema, **ERRORS},
        summary="The bodies a message had before its edits, newest first (members of its room; moderators)",
    )
    def get(self, request: Request, message_id: int) -> Response:
        message, _ = actions.get_visible_message(request.user, message_id)
        return Response(queries.message_edits(message))


class MessageReactionsView(APIView):
    @extend_schema(request=schema.EmojiRequest, responses={200: schema.MessageSchema, **ERRORS})
    def post(self, request: Request, message_id: int) -> Response:
        return Response(actions.set_reaction(request.user, message_id, body(request).get("emoji"), True))

    @extend_schema(
        request=schema.EmojiRequest,
        parameters=[OpenApiParameter("emoji", str, required=False, description="Instead of the body")],
        responses={200: schema.MessageSchema, **ERRORS},
    )
    def delete(self, request: Request, message_id: int) -> Response:
        emoji = request.data.get("emoji") if isinstance(request.data, dict) and request.data else None
        emoji = emoji or request.query_params.get("emoji")
        return Response(actions.set_reaction(request.user, message_id, emoji, False))


class MessagePinView(APIView):
    @extend_schema(request=None, responses={200: schema.MessageSchema, **WRITE_ERRORS})
    def post(self, request: Request, message_id: int) -> Response:
        return Response(actions.set_pinned(request.user, message_id, True))

    @extend_schema(request=None, responses={200: schema.MessageSchema, **WRITE_ERRORS})
    def delete(self, request: Request, message_id: int) -> Response:
        return Response(actions.set_pinned(request.user, message_id, False))


EMOJI_CACHE_SECONDS = 24 * 60 * 60


class EmojiView(APIView):
    """The ``:shortcode:`` table the server renders with, for the browser's completion.

    The same for everyone and changed only by a deploy: anyone may fetch it, and
    caches keep it a day, revalidated by its ETag (the table's version)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(auth=[], responses={200: schema.EmojiSchema(many=True), 304: None}, summary="The emoji shortcodes")
    def get(self, request: Request) -> Response:
        etag = f'"{emoji.TABLE_VERSION}"'
        if request.headers.get("If-None-Match") == etag:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(emoji.emoji_table())
        response["ETag"] = etag
        response["Cache-Control"] = f"public, max-age={EMOJI_CACHE_SECONDS}"
        return response


class SearchView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True), OpenApiParameter("room", int, required=False)],
        responses={200: schema.MessageSchema(many=True), **ERRORS},
        summary="Search messages in the caller's rooms",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return Response(queries.search_messages(request.user, params.get("q"), params.get("room")))


class ThreadView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, required=False, description="Only replies with a smaller seq"),
            OpenApiParameter("after", int, required=False, description="Only replies with a larger seq"),
            OpenApiParameter("limit", int, required=False, description="1 to 100, default 50"),
        ],
        responses={200: schema.ThreadSchema, **ERRORS},
        summary="A thread: its root and a page of replies, oldest first (newest page by default)",
    )
    def get(self, request: Request, message_id: int) -> Response:
        root = actions.thread_root_for(request.user, message_id)
        params = request.query_params
        return Response(
            thread_queries.thread_page(
                root, before=params.get("before"), after=params.get("after"), limit=params.get("limit")
            )
        )


class ThreadFollowView(APIView):
    @extend_schema(request=None, responses={204: None, **ERRORS}, summary="Follow a thread")
    def put(self, request: Request, message_id: int) -> Response:
        actions.follow_thread(request.user, message_id, True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None, **ERRORS}, summary="Unfollow a thread")
    def delete(self, request: Request, message_id: int) -> Response:
        actions.follow_thread(request.user, message_id, False)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThreadReadView(APIView):
    @extend_schema(request=schema.ReadRequest, responses={200: schema.ThreadReadSchema, **ERRORS})
    def post(self, request: Request, message_id: int) -> Response:
        return Response(actions.mark_thread_read(request.user, message_id, body(request).get("seq")))


class FollowedThreadsView(APIView):
    @extend_schema(
        responses={200: schema.FollowedThreadSchema(many=True), **errors()},
        summary="The threads the caller follows, those with unread replies first",
    )
    def get(self, request: Request) -> Response:
        return Response(thread_queries.followed_threads(request.user))


# --- Room invitations ---------------------------------------------------------------------------------


def invite_url(request: Request, code: str) -> str:
    """The absolute link of an invitation's page, on the host the caller used."""
    return request.build_absolute_uri(reverse("room-invite", args=[code]))


class RoomInvitesView(APIView):
    @extend_schema(
        responses={200: schema.RoomInviteSchema(many=True), **WRITE_ERRORS},
        summary="The room's live invitations (admins)",
    )
    def get(self, request: Request, room_id: int) -> Response:
        invites = actions.room_invites(request.user, room_id)
        return Response([room_invite_payload(invite, invite_url(request, invite.code)) for invite in invites])

    @extend_schema(
        request=schema.RoomInviteCreateRequest,
        responses={201: schema.RoomInviteSchema, **errors(400, 403, 404, 409, 429)},
        summary="Make an invitation link to the room (admins)",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = body(request)
        invite = actions.create_room_invite(
            request.user, room_id, max_uses=data.get("max_uses"), expires_in=data.get("expires_in")
        )
        return Response(room_invite_payload(invite, invite_url(request, invite.code)), status=status.HTTP_201_CREATED)


class RoomInviteDetailView(APIView):
    @extend_schema(
        responses={204: None, **errors(403, 404, 429)}, summary="Revoke an invitation (room admins, or its maker)"
    )
    def delete(self, request: Request, code: str) -> Response:
        actions.revoke_room_invite(request.user, code)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomInviteAcceptView(APIView):
    @extend_schema(
        request=None,
        responses={200: schema.RoomDetailSchema, **errors(404, 429)},
        summary="Join the invitation's room (a member already: just its detail, no use counted)",
    )
    def post(self, request: Request, code: str) -> Response:
        return Response(actions.accept_room_invite(request.user, code))
