"""The one multiplexed WebSocket at ``/ws/chat/``.

A thin adapter: it authenticates, parses frames, calls the actions in
``chat.actions`` (one worker-thread call per request) and answers every
request that carries an ``id`` exactly once, with an ``ack`` or an
``error``. Room events arrive from the channel layer already encoded and are
forwarded as they are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.utils import timezone

from accounts.queries import session_tag, token_user_read, user_for_valid_access_token, valid_access_token
from core import logs
from core.compiled import Read, read_together
from core.errors import ActionError, invalid
from core.metrics import SEND_SECONDS
from core.payloads import iso, user_payload
from core.publishing import FRAME_MESSAGE_TYPE, PRESENCE_MESSAGE_TYPE, encode_frame, room_group, user_group
from core.validation import check_json_depth, parse_id
from integrations.queries import is_bot_token, user_for_bot_token
from notifications.queries import unread_count_read, unread_notification_count
from presence import actions as presence_actions
from presence import realtime as presence
from realtime.consumer import RealtimeConsumer, release_handshake, request_id_of
from realtime.database import DatabaseBatches, database_call

from . import actions, queries

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_SUSPENDED = 4403
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455's "Try Again Later": a session socket the server could not load

T = TypeVar("T")

Handler = Callable[["ChatConsumer", dict[str, Any]], Awaitable[dict[str, Any] | None]]
HANDLERS: dict[str, Handler] = {}


def handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[event_type] = handler
        return handler

    return register


def _ready_reads(user_id: int) -> list[Read]:
    """The reads ``_read_ready`` makes, sent together (``read_together``): one round trip, not four."""
    return [
        *queries.room_list_reads(user_id),
        unread_count_read(user_id),
        presence_actions.co_member_presence_read(user_id),
    ]


def _load_ready(user) -> ReadyData:
    """Everything ``ready`` needs, and the user's co-members' presence columns, in one worker-thread call."""
    return _the_one(_load_ready_many([user]))


def _read_ready(user, server_time: datetime) -> tuple[dict[str, Any], presence_actions.PresenceRows]:
    """``_load_ready``'s reads, taken from ``read_together`` where they were sent ahead."""
    rooms = queries.rooms_for_user(user)
    ready = {
        "server_time": iso(server_time),
        "user": user_payload(user),
        "rooms": rooms,
        "notifications_unread": unread_notification_count(user),
    }
    return ready, presence_actions.co_member_presence_rows(user.id)


ReadyData = tuple[dict[str, Any], presence_actions.PresenceRows]
Authenticated = tuple[Any, str | None, ReadyData]  # the user, its sign-in session, and what ``ready`` needs


def _authenticate_and_load(token: Any) -> Authenticated | None:
    """The user a token authenticates, its sign-in session and ``_load_ready``: a connect's one worker-thread call.

    A bot's API token (cfb_...) or a JWT access token: the bot token's prefix tells them apart. None
    when the token authenticates no one. For a JWT whose signature holds, the user's row and the
    reads of ``ready`` go to the database together, in one round trip, before the row says whether
    the token still works; when it does not, the rest are dropped unread.
    """
    return _the_one(_authenticate_and_load_many([token]))


def _authenticate_and_load_many(tokens: list[Any]) -> list[Authenticated | None | Exception]:
    """``_authenticate_and_load`` of each token, the reads of all the JWTs in one round trip
    (``DatabaseBatches``: the connects that arrived together). An error of one token's load is that
    token's answer; the others' stand."""
    found: list[Authenticated | None | Exception] = [None] * len(tokens)
    jwts = []  # (where in tokens, its access token)
    bots = []  # (where in tokens, the bot token): each read on its own, after the JWTs' round trip
    reads: list[Read] = []  # each JWT's user read, then its user's ready reads
    for index, token in enumerate(tokens):
        if is_bot_token(token):
            bots.append((index, token))
            continue
        access = valid_access_token(token)
        token_read = token_user_read(access) if access is not None else None
        if token_read is not None:
            _, (user_id, _) = token_read
            jwts.append((index, access))
            reads += [token_read, *_ready_reads(user_id)]
    server_time = timezone.now()  # before reading, so no change slips between
    with read_together(reads):
        for index, access in jwts:
            found[index] = _each_on_its_own(_load_for_access_token, access, server_time)
    for index, token in bots:
        found[index] = _each_on_its_own(_load_for_bot_token, token)
    return found


def _load_for_access_token(access: Any, server_time: datetime) -> Authenticated | None:
    found = user_for_valid_access_token(access)
    if found is None:
        return None
    user, token_session = found
    return user, token_session, _read_ready(user, server_time)


def _load_for_bot_token(token: str) -> Authenticated | None:
    found = user_for_bot_token(token)
    if found is None:
        return None
    user, token_session = found
    return user, token_session, _load_ready(user)


def _load_ready_many(users: list[Any]) -> list[ReadyData | Exception]:
    """``_load_ready`` of each user (sockets a session cookie signed in), their reads in one round trip."""
    server_time = timezone.now()  # before reading, so no change slips between
    with read_together([read for user in users for read in _ready_reads(user.id)]):
        return [_each_on_its_own(_read_ready, user, server_time) for user in users]


def _each_on_its_own(load: Callable[..., T], *args: Any) -> T | Exception:
    """``load(*args)``, or the exception it raised: one connect's failure is its own, not its batch's."""
    try:
        return load(*args)
    except Exception as error:  # noqa: BLE001 -- handed to that connect's caller (DatabaseBatches)
        return error


def _the_one(answers: list[T | Exception]) -> T:
    """The answer of a batch of one, raised if it is an error."""
    (answer,) = answers
    if isinstance(answer, Exception):
        raise answer
    return answer


def _connect_batches(run_many: Callable[[list[Any]], list[Any]]) -> DatabaseBatches:
    """Connects arriving while others load go out together (``realtime.database.DatabaseBatches``)."""
    return DatabaseBatches(
        run_many,
        max_size=settings.CONNECT_BATCH_SIZE,
        in_flight=settings.CONNECT_BATCHES_IN_FLIGHT,
    )


connect_loads = _connect_batches(_authenticate_and_load_many)  # token sockets
session_connect_loads = _connect_batches(_load_ready_many)  # session-cookie sockets


class ChatConsumer(RealtimeConsumer):
    # Class-level defaults: an idle connection's instance dict holds only what it uses.
    user = None
    groups = ()  # Channels' own group list, unused here (each connection follows its rooms' groups itself)
    # The rooms this connection follows. A tuple: most users are in a few rooms, and an empty set alone is
    # 0.2 KiB per idle socket; a membership check runs once per request, never per delivered event.
    room_ids: tuple[int, ...] = ()
    session_id: str
    # The tag of the sign-in session this socket was opened with (a page session or a token session), if any.
    sign_in_session: str | None = None
    _auth_timer: asyncio.TimerHandle | None = None
    # Presence changes may wait a moment to share a write with others to the same socket (WS_EVENT_HOLD_SECONDS).
    HOLDABLE_TYPES = frozenset({PRESENCE_MESSAGE_TYPE})

    async def connect(self) -> None:
        self.session_id = os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID per connect
        await self.accept()
        self._connection = release_handshake(self.scope, self.base_send)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            try:
                loaded = await session_connect_loads.call(user)
            except ActionError as error:  # busy, or the database did not answer in time
                await self.send_error(None, error)
                await self.close(code=CLOSE_TRY_AGAIN_LATER)
                return
            await self._start(user, self.scope.get("session_key"), loaded)
        else:
            self._auth_timer = asyncio.get_running_loop().call_later(
                settings.WS_AUTH_TIMEOUT, lambda: asyncio.ensure_future(self._auth_timed_out())
            )

    async def _auth_timed_out(self) -> None:
        if self.user is None:
            await self.send_error(None, ActionError("unauthenticated", "Authenticate within the time limit."))
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _start(
        self, user, sign_in_secret: str | None, loaded: ReadyData, *, ack_id: str | None = None
    ) -> dict[str, Any]:
        """Follow the user's groups, announce the connection and send ``ready`` (and the ``ack`` of the
        ``authenticate`` request ``ack_id`` after it, in the same write)."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        self.user = user
        ready, co_member_rows = loaded
        self.room_ids = tuple(room["id"] for room in ready["rooms"])
        layer = self.channel_layer
        await layer.group_add(user_group(user.id), self.channel_name)
        if sign_in_secret:
            self.sign_in_session = session_tag(sign_in_secret)
        for room_id in self.room_ids:
            await layer.group_add(room_group(room_id), self.channel_name)
        expect_seq = getattr(layer, "expect_seq", None)
        if expect_seq is not None:  # the Redis fan-out layer orders each room's messages by seq
            for room in ready["rooms"]:
                expect_seq(room_group(room["id"]), room["last_seq"] + 1)
        ready["session"] = self.session_id
        ready.update(await presence.connection_opened(self, co_member_rows))
        frames = [encode_frame("ready", ready)]
        if ack_id is not None:
            frames.append(encode_frame("ack", {"user": user_payload(user)}, request_id=ack_id))
        await self.send_texts(frames)
        return ready

    async def disconnect(self, code: int) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        if self.user is None:
            return
        layer = self.channel_layer
        try:
            for room_id in self.room_ids:
                await layer.group_discard(room_group(room_id), self.channel_name)
            await layer.group_discard(user_group(self.user.id), self.channel_name)
        finally:
            # A failed group_discard must not leave the user online until the next sweep.
            await presence.connection_closed(self)

    # --- Frames from the client -------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error(None, invalid("Frames must be JSON text."))
            return
        if frame_too_large(text_data):
            # Answered with the frame's id when it can be read (every request with an id is answered once).
            request_id = request_id_of(text_data) if len(text_data) <= READ_ID_OF_FRAMES_UP_TO else None
            await self.send_error(
                request_id, ActionError("too_large", f"Frames are limited to {settings.WS_MAX_FRAME_BYTES} bytes.")
            )
            return
        try:
            check_json_depth(text_data, settings.JSON_MAX_DEPTH)  # the same bound as REST bodies
        except ActionError as error:
            await self.send_error(None, error)
            return
        try:
            frame = orjson.loads(text_data)
        except orjson.JSONDecodeError:
            await self.send_error(None, invalid("The frame is not valid JSON."))
            return
        if not isinstance(frame, dict):
            await self.send_error(None, invalid("A frame is a JSON object with `type` and `data`."))
            return
        request_id = frame.get("id")
        if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 64):
            await self.send_error(None, invalid("`id` must be a string of at most 64 characters."))
            return
        event_type = frame.get("type")
        data = frame.get("data", {})
        if data is None:
            data = {}
        if self.user is None:
            await self._receive_unauthenticated(request_id, event_type, data)
            return
        handler = HANDLERS.get(event_type) if isinstance(event_type, str) else None
        if handler is None:
            await self.send_error(request_id, invalid(f"Unknown event type: {str(event_type)[:40]!r}."))
            return
        if not isinstance(data, dict):
            await self.send_error(request_id, invalid("`data` must be an object."))
            return
        started = time.perf_counter()
        # The frame's work (and its database thread: context is copied there) logs under this id.
        log_token = logs.request_id.set(f"ws:{self.session_id[:8]}:{request_id or '-'}")
        try:
            result = await handler(self, data)
        except ActionError as error:
            await self.send_error(request_id, error)
            return
        except Exception:
            logger.exception("WebSocket handler %s failed", event_type)
            await self.send_error(request_id, ActionError("server_error", "Something went wrong on our side."))
            return
        finally:
            logs.request_id.reset(log_token)
        if request_id is not None:
            await self.send(text_data=encode_frame("ack", result or {}, request_id=request_id))
        if event_type == "send_message":
            SEND_SECONDS.observe(time.perf_counter() - started)

    async def _receive_unauthenticated(self, request_id: str | None, event_type: Any, data: Any) -> None:
        if event_type != "authenticate":
            await self.send_error(request_id, ActionError("unauthenticated", "Authenticate first."))
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        token = data.get("token") if isinstance(data, dict) else None
        try:
            found = await connect_loads.call(token)
        except ActionError as error:  # busy, or the database did not answer in time: the client may try again
            await self.send_error(request_id, error)
            return
        if found is None:
            await self.send_error(
                request_id, ActionError("unauthenticated", "The token is invalid, expired or its session has ended.")
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user, token_session, loaded = found
        await self._start(user, token_session, loaded, ack_id=request_id)

    # --- Messages from the channel layer ---------------------------------------

    def frame_for(self, message: dict[str, Any]) -> str | dict[str, Any] | None:
        """Room frames are written as they are (minus the sender's own where excluded),
        presence frames filtered per connection, anything else dispatched in order."""
        kind = message["type"]
        if kind == FRAME_MESSAGE_TYPE:
            if self.user is not None and message.get("exclude_user") == self.user.id:
                return None
            return message["frame"]
        if kind == PRESENCE_MESSAGE_TYPE:
            return presence.frame_for(self, message)
        return message

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A room or user event, already encoded once for every recipient."""
        if self.user is not None and event.get("exclude_user") == self.user.id:
            return
        await self.base_send({"type": "websocket.send", "text": event["frame"]})

    async def chat_per_member(self, event: dict[str, Any]) -> None:
        """A room broadcast with a frame per member (notifications): send ours, if any."""
        frame = event["frames"].get(str(self.user.id)) if self.user is not None else None
        if frame is not None:
            await self.send(text_data=frame)

    async def chat_membership(self, event: dict[str, Any]) -> None:
        """This user joined or left a room: follow its group, then tell the client."""
        room_id = event["room"]
        if event["added"]:
            if room_id not in self.room_ids:
                self.room_ids = (*self.room_ids, room_id)
                await self.channel_layer.group_add(room_group(room_id), self.channel_name)
        elif room_id in self.room_ids:
            self.room_ids = tuple(followed for followed in self.room_ids if followed != room_id)
            await self.channel_layer.group_discard(room_group(room_id), self.channel_name)
        await self.send(text_data=event["frame"])

    async def chat_disconnect(self, event: dict[str, Any]) -> None:
        """The user's sessions, or this socket's sign-in session, ended: end this connection now.

        Sent to the user's group; one naming a ``session`` closes only the sockets opened with it.
        """
        session = event.get("session")
        if session is not None and session != self.sign_in_session:
            return
        await self.send(text_data=encode_frame("error", {"code": "forbidden", "message": event.get("reason", "")}))
        await self.close(code=CLOSE_SUSPENDED)

    async def presence_frame(self, event: dict[str, Any]) -> None:
        """A presence or typing event (see ``presence.realtime``)."""
        await presence.deliver(self, event)


# --- Request handlers: parse, call the action, shape the ack --------------------


@handles("send_message")
async def _send_message(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    message, _ = await consumer.run_action(
        actions.send_message,
        data.get("room"),
        lane=lane_of("room", data.get("room")),
        body=data.get("body", ""),
        client_id=data.get("client_id"),
        reply_to=data.get("reply_to"),
        attachments=data.get("attachments"),
        kind=data.get("kind"),
        thread=data.get("thread"),
        also_to_room=data.get("also_to_room"),
    )
    return message if "command" in message else {"message": message}  # a slash command: {command, result}


@handles("edit_message")
async def _edit_message(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return {"message": await consumer.run_action(actions.edit_message, data.get("message"), body=data.get("body"))}


@handles("delete_message")
async def _delete_message(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await consumer.run_action(actions.delete_message, data.get("message"))
    return {}


@handles("pin_message")
async def _pin_message(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return {"message": await consumer.run_action(actions.set_pinned, data.get("message"), True)}


@handles("unpin_message")
async def _unpin_message(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return {"message": await consumer.run_action(actions.set_pinned, data.get("message"), False)}


@handles("add_reaction")
async def _add_reaction(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return {"message": await consumer.run_action(actions.set_reaction, data.get("message"), data.get("emoji"), True)}


@handles("remove_reaction")
async def _remove_reaction(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return {"message": await consumer.run_action(actions.set_reaction, data.get("message"), data.get("emoji"), False)}


@handles("mark_as_read")
async def _mark_as_read(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return await consumer.run_action(actions.mark_as_read, data.get("room"), data.get("seq"))


@handles("join_room")
async def _join_room(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    detail = await consumer.run_action(actions.join_room, data.get("room"))
    # Who is online and who is typing there now, in the same shapes as `ready`.
    detail.update(await presence.room_snapshot(consumer, detail["id"]))
    return detail


@handles("leave_room")
async def _leave_room(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await consumer.run_action(actions.leave_room, data.get("room"))
    return {}


@handles("sync")
async def _sync(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return await consumer.run_action(queries.sync_rooms, data.get("rooms"), data.get("since"))


@handles("typing_start")
async def _typing_start(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await presence.typing(consumer, consumer_room(consumer, data), started=True)
    return {}


@handles("typing_stop")
async def _typing_stop(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    await presence.typing(consumer, consumer_room(consumer, data), started=False)
    return {}


@handles("update_status")
async def _update_status(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    return await presence.update_status(consumer, data)


@handles("ping")
async def _ping(consumer: ChatConsumer, data: dict[str, Any]) -> dict[str, Any]:
    """Keeps the connection's presence fresh, and says where each of its rooms stands.

    ``rooms`` maps each room id to its ``last_seq``: a client that has less
    in a room missed something (a publish lost while Redis restarted, a
    process killed between commit and publish) and syncs, even when the room
    has gone quiet and no later message would reveal the gap.
    """
    await presence.heartbeat(consumer)
    return {"rooms": await room_positions.of(consumer.room_ids)}


class RoomPositions:
    """Each room's ``last_seq``, read at most once a second per process for all its sockets' pings."""

    MAX_AGE = 1.0  # seconds

    def __init__(self) -> None:
        self.known: dict[int, tuple[float, int]] = {}

    async def of(self, room_ids: Collection[int]) -> dict[str, int]:
        now = time.monotonic()
        stale = {room_id for room_id in room_ids if not self._fresh(room_id, now)}
        if stale:
            for room_id, last_seq in (await database_call(queries.room_positions, stale)).items():
                self.known[room_id] = (now, last_seq)
            if len(self.known) > 4 * ROOM_POSITIONS_KEPT:  # forget rooms nobody pinged about lately
                self.known = {key: value for key, value in self.known.items() if now - value[0] < self.MAX_AGE}
        return {str(room_id): self.known[room_id][1] for room_id in room_ids if room_id in self.known}

    def _fresh(self, room_id: int, now: float) -> bool:
        entry = self.known.get(room_id)
        return entry is not None and now - entry[0] < self.MAX_AGE


ROOM_POSITIONS_KEPT = 10_000
room_positions = RoomPositions()


# The id of an oversized frame is read up to this size; past it the frame is refused unread.
READ_ID_OF_FRAMES_UP_TO = 1024 * 1024


def frame_too_large(text: str) -> bool:
    """Over ``WS_MAX_FRAME_BYTES`` in UTF-8 bytes (not characters: 4-byte characters count four)."""
    limit = settings.WS_MAX_FRAME_BYTES
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)


def lane_of(kind: str, raw_id: Any) -> tuple[str, int] | None:
    """The database lane of a request about one room or message (None when the id does not parse:
    the action refuses it). Requests in one lane run in arrival order (realtime.database)."""
    try:
        return (kind, parse_id(raw_id, kind))
    except ActionError:
        return None


def consumer_room(consumer: ChatConsumer, data: dict[str, Any]) -> int:
    """A room of this connection's user, checked against the rooms it follows (no query)."""
    room_id = parse_id(data.get("room"), "room")
    if room_id not in consumer.room_ids:
        raise ActionError("not_found", "Room not found.")
    return room_id
