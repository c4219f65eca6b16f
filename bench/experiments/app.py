"""``config.asgi`` with the patches named in ``CONFAB_BENCH_PATCHES`` (comma-separated) applied.

- ``fast_dispatch``: no thread hop per delivered message. Channels 4.2+
  ``AsyncConsumer.dispatch`` awaits ``sync_to_async(close_old_connections)()``
  before every message, including every channel-layer event forwarded to a
  socket; the hop runs in asgiref's single thread-sensitive worker thread, so
  every delivery queues behind every database call of the process.
  ChatConsumer reaches the database only through ``database_sync_to_async``,
  which closes old connections itself.
- ``ordered_publish``: publish each action's events under a per-process lock,
  taken in the order the (single) database thread finished the actions, so
  two sends into one room reach the channel layer in seq order (without it,
  two concurrent ``group_send`` calls race through their Redis round trips).
- ``direct_send``: ``chat_frame`` hands the pre-encoded frame straight to the
  server's ``send``, under Channels' ``AsyncWebsocketConsumer.send`` and the
  session middleware's send wrapper (which reads the lazy session's
  ``modified``/``is_empty()`` on every message; a ``websocket.send`` never
  saves a session, so skipping it changes nothing).
- ``CONFAB_BENCH_SWITCH_INTERVAL=<seconds>``: ``sys.setswitchinterval``. The
  database thread gives up the GIL on every query round trip and must win it
  back from a busy event loop, which holds it up to the switch interval (5 ms
  by default) each time: a send of N round trips can wait N x 5 ms.
"""

# ruff: noqa: E402, I001 -- config.asgi comes first: it sets Django up before chat is imported
from config.asgi import application  # noqa: F401 -- the name the server loads

import asyncio
import os
import sys

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async

from chat.consumers import ChatConsumer
from core.publishing import call_collecting_events

PATCHES = {p.strip() for p in os.environ.get("CONFAB_BENCH_PATCHES", "").split(",") if p.strip()}


async def dispatch(self, message):
    handler = getattr(self, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


_publish_lock: asyncio.Lock | None = None


async def run_action(self, action, *args, **kwargs):
    global _publish_lock
    result, outbox = await database_sync_to_async(call_collecting_events)(action, self.user, *args, **kwargs)
    if outbox:
        if _publish_lock is None:
            _publish_lock = asyncio.Lock()
        async with _publish_lock:
            for group, message in outbox:
                await self.channel_layer.group_send(group, message)
    return result


def _dump_allocations(*_args) -> None:
    import tracemalloc

    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    )
    path = f"/tmp/confab-tracemalloc-{os.getpid()}.txt"
    with open(path + ".tmp", "w") as out:
        total = sum(stat.size for stat in snapshot.statistics("filename"))
        out.write(f"traced {total / 1024:.0f} KiB\n-- by line --\n")
        for stat in snapshot.statistics("lineno")[:40]:
            out.write(f"{stat.size / 1024:10.0f} KiB {stat.count:8d} blocks  {stat.traceback}\n")
        out.write("-- by file --\n")
        for stat in snapshot.statistics("filename")[:40]:
            out.write(f"{stat.size / 1024:10.0f} KiB {stat.count:8d} blocks  {stat.traceback}\n")
    os.replace(path + ".tmp", path)  # whole or not at all for the reader


async def chat_frame(self, event):
    if self.user is not None and event.get("exclude_user") == self.user.id:
        return
    send = getattr(self, "_raw_send", None)
    if send is None:
        wrapper = getattr(self.base_send, "__self__", None)
        send = self._raw_send = getattr(wrapper, "real_send", self.base_send)
    await send({"type": "websocket.send", "text": event["frame"]})


if os.environ.get("CONFAB_BENCH_TRACEMALLOC"):
    import signal
    import tracemalloc

    tracemalloc.start()
    signal.signal(signal.SIGUSR1, _dump_allocations)
if os.environ.get("CONFAB_BENCH_SWITCH_INTERVAL"):
    sys.setswitchinterval(float(os.environ["CONFAB_BENCH_SWITCH_INTERVAL"]))
if "fast_dispatch" in PATCHES:
    ChatConsumer.dispatch = dispatch
if "ordered_publish" in PATCHES:
    ChatConsumer.run_action = run_action
if "direct_send" in PATCHES:
    ChatConsumer.chat_frame = chat_frame
unknown = PATCHES - {"fast_dispatch", "ordered_publish", "direct_send"}
if unknown:
    raise SystemExit(f"unknown CONFAB_BENCH_PATCHES: {sorted(unknown)}")
