"""The WebSocket load generator: lean asyncio clients, one or more worker processes.

The clients run on picows (a compiled WebSocket client: each frame is one
callback, with no task or future per frame), or on the ``websockets`` package
(``--client-lib websockets``), which costs the generator about twice the CPU per
delivery and saturates its core first.

Each worker process owns a share of the connections and runs its own event
loop (uvloop when installed), pinned to the generator's core. The parent
drives the workers through pipes with a handful of commands (connect, run a
step, report acks, audit, close), so steps start together and the delivery
audit can compare every worker's receipts with every worker's acks.

Latency is measured on one clock: the sender writes ``time.monotonic_ns()``
(system-wide on Linux) into the message body, every receiver subtracts it
from its own ``monotonic_ns()`` on arrival.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from .common import pin_to, raise_nofile_limit, self_cpu_seconds

PAD = "lorem ipsum dolor sit amet consectetur adipiscing elit"  # bodies of about 80 bytes


@dataclass
class ConnSpec:
    index: int
    url: str
    room: int
    user: int
    token: str


@dataclass
class Conn:
    spec: ConnSpec
    ws: Any = None  # websockets: the connection; picows: the WSTransport
    closed: bool = False
    close_reason: str = ""
    last_seq: int = 0
    seqs: array = field(default_factory=lambda: array("q"))
    duplicates: int = 0
    out_of_order: int = 0
    foreign: int = 0


class Worker:
    """One generator process: its connections, its sends, its receipts."""

    def __init__(self, worker_id: int, specs: list[ConnSpec], client_lib: str = "picows") -> None:
        self.worker_id = worker_id
        self.specs = specs
        self.client_lib = client_lib
        self.conns: list[Conn] = []
        self.pending: dict[str, tuple[Conn, int]] = {}
        self.acked: dict[int, list[int]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.other_frames: dict[str, int] = defaultdict(int)
        self.counter = 0
        self.latencies = array("d")
        self.ack_latencies = array("d")
        self.window = (0, 0)  # monotonic_ns bounds of the current step's send window
        self.in_window = 0
        self.deliveries = 0
        self.last_frame_ns = 0
        self.tasks: list[asyncio.Task] = []

    # --- Connections ---------------------------------------------------------------------

    async def connect(self, concurrency: int) -> dict[str, Any]:
        if self.client_lib == "picows":
            return await self._connect_picows(concurrency)
        return await self._connect_websockets(concurrency)

    async def _connect_websockets(self, concurrency: int) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []
        t0 = time.monotonic()

        async def open_one(spec: ConnSpec) -> None:
            async with gate:
                conn = Conn(spec)
                try:
                    conn.ws = await connect(
                        spec.url,
                        compression=None,
                        ping_interval=None,
                        max_queue=None,
                        open_timeout=120,
                        close_timeout=2,
                        max_size=2**24,
                    )
                    await conn.ws.send(orjson.dumps({"type": "authenticate", "data": {"token": spec.token}}).decode())
                    while True:
                        frame = orjson.loads(await asyncio.wait_for(conn.ws.recv(decode=False), 120))
                        if frame.get("type") == "ready":
                            rooms = {room["id"] for room in frame["data"].get("rooms", [])}
                            if spec.room not in rooms:
                                raise RuntimeError(f"ready lacks room {spec.room}")
                            break
                        if frame.get("type") == "error":
                            raise RuntimeError(f"auth error {frame['data']}")
                except Exception as exc:  # noqa: BLE001 -- a failed connect is a figure, not a crash
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    if conn.ws is not None:
                        await conn.ws.close()
                    return
                self.conns.append(conn)
                self.tasks.append(asyncio.ensure_future(self.reader(conn)))

        await asyncio.gather(*(open_one(spec) for spec in self.specs))
        return self._connected(failures, t0)

    async def _connect_picows(self, concurrency: int) -> dict[str, Any]:
        """The same handshake on picows: frames arrive in a callback, with no task or future per frame."""
        from picows import WSListener, WSMsgType, ws_connect

        worker = self

        class Listener(WSListener):
            def __init__(self) -> None:
                self.conn: Conn | None = None
                self.ready: asyncio.Future | None = None
                self.parts: list[bytes] = []

            def on_ws_frame(self, transport, frame) -> None:
                if frame.msg_type == WSMsgType.CLOSE:
                    self._closed(f"code {frame.get_close_code()}")
                    transport.disconnect()
                    return
                if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
                    return
                raw = frame.get_payload_as_bytes()
                if not frame.fin:
                    self.parts.append(raw)
                    return
                if self.parts:
                    raw = b"".join([*self.parts, raw])
                    self.parts = []
                if self.ready is not None:
                    self._handshake_frame(raw)
                else:
                    worker.handle(self.conn, raw, time.monotonic_ns())

            def _handshake_frame(self, raw: bytes) -> None:
                frame = orjson.loads(raw)
                if frame.get("type") == "ready":
                    rooms = {room["id"] for room in frame["data"].get("rooms", [])}
                    if self.conn.spec.room not in rooms:
                        self.ready.set_exception(RuntimeError(f"ready lacks room {self.conn.spec.room}"))
                    else:
                        self.ready.set_result(None)
                    self.ready = None
                elif frame.get("type") == "error":
                    self.ready.set_exception(RuntimeError(f"auth error {frame['data']}"))
                    self.ready = None

            def on_ws_disconnected(self, transport) -> None:
                self._closed("disconnected")

            def _closed(self, reason: str) -> None:
                if self.ready is not None and not self.ready.done():
                    self.ready.set_exception(RuntimeError(f"closed during the handshake: {reason}"))
                    self.ready = None
                if self.conn is not None and not self.conn.closed:
                    self.conn.closed = True
                    self.conn.close_reason = reason

        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()

        async def open_one(spec: ConnSpec) -> None:
            async with gate:
                conn = Conn(spec)
                try:
                    transport, listener = await ws_connect(
                        Listener, spec.url, websocket_handshake_timeout=120, max_frame_size=2**24
                    )
                    conn.ws = transport
                    listener.conn = conn
                    listener.ready = loop.create_future()
                    ready = listener.ready
                    message = orjson.dumps({"type": "authenticate", "data": {"token": spec.token}})
                    transport.send(WSMsgType.TEXT, message)
                    await asyncio.wait_for(ready, 120)
                except Exception as exc:  # noqa: BLE001 -- a failed connect is a figure, not a crash
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    if conn.ws is not None:
                        conn.ws.disconnect()
                    return
                self.conns.append(conn)

        await asyncio.gather(*(open_one(spec) for spec in self.specs))
        return self._connected(failures, t0)

    def _connected(self, failures: list[str], t0: float) -> dict[str, Any]:
        # Interleave rooms so consecutive sends go to different rooms.
        self.conns.sort(key=lambda c: c.spec.index)
        return {
            "connected": len(self.conns),
            "failed": len(failures),
            "failures": failures[:5],
            "seconds": time.monotonic() - t0,
        }

    async def send(self, conn: Conn, frame: str) -> None:
        if self.client_lib == "picows":
            from picows import WSMsgType

            conn.ws.send(WSMsgType.TEXT, frame.encode())
        else:
            await conn.ws.send(frame)

    def handle(self, conn: Conn, raw: bytes, now: int) -> None:
        """One frame received on ``conn`` at ``now`` (monotonic ns): count it, time it, audit it."""
        self.last_frame_ns = now
        frame = orjson.loads(raw)
        kind = frame.get("type")
        if kind == "new_message":
            message = frame["data"]["message"]
            if message["room"] != conn.spec.room:
                conn.foreign += 1
                return
            seq = message["seq"]
            if seq > conn.last_seq:
                conn.last_seq = seq
            elif seq in set(conn.seqs):
                conn.duplicates += 1
            else:
                conn.out_of_order += 1
            conn.seqs.append(seq)
            body = message["body"]
            if body.startswith("t="):
                sent_ns = int(body[2 : body.index(" ")])
                self.latencies.append((now - sent_ns) / 1e6)
            self.deliveries += 1
            if self.window[0] <= now <= self.window[1]:
                self.in_window += 1
        elif kind == "ack":
            pending = self.pending.pop(frame.get("id"), None)
            if pending is not None:
                message = frame["data"]["message"]
                self.acked[message["room"]].append(message["seq"])
                self.ack_latencies.append((now - pending[1]) / 1e6)
        elif kind == "error":
            self.pending.pop(frame.get("id"), None)
            self.errors[frame.get("data", {}).get("code", "?")] += 1
        else:
            self.other_frames[str(kind)] += 1

    async def reader(self, conn: Conn) -> None:
        """websockets only: picows calls ``handle`` from its frame callback."""
        from websockets.exceptions import ConnectionClosed

        now_ns = time.monotonic_ns
        ws = conn.ws
        try:
            while True:
                raw = await ws.recv(decode=False)
                self.handle(conn, raw, now_ns())
        except ConnectionClosed as exc:
            conn.closed = True
            conn.close_reason = f"code {exc.rcvd.code if exc.rcvd else 'none'}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            conn.closed = True
            conn.close_reason = f"{type(exc).__name__}: {exc}"[:200]

    # --- Load ----------------------------------------------------------------------------

    async def run(self, rate: float, start_at: float, duration: float, drain_timeout: float) -> dict[str, Any]:
        """Offer ``rate`` messages/s from start_at for duration seconds, then wait for the deliveries."""
        self.latencies = array("d")
        self.ack_latencies = array("d")
        self.in_window = 0
        self.deliveries = 0
        errors_before = dict(self.errors)
        start_ns = int(start_at * 1e9)
        self.window = (start_ns, start_ns + int(duration * 1e9))
        senders = [c for c in self.conns if not c.closed]
        lag = array("d")
        sent = 0
        skipped = 0
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        cpu0 = self_cpu_seconds()
        wall0 = time.monotonic()
        end = start_at + duration
        i = 0
        total = int(duration * rate) if senders else 0
        interval = 1.0 / rate if rate > 0 else 0.0
        while sent + skipped < total:
            now = time.monotonic()
            # A generator that wakes late still sends every message of the window (late, and its lag says so).
            due = total if now >= end else min(int((now - start_at) * rate) + 1, total)
            while sent + skipped < due:
                conn = senders[i % len(senders)]
                i += 1
                if conn.closed:
                    skipped += 1
                    continue
                scheduled = start_at + (sent + skipped) * interval
                self.counter += 1
                request_id = f"{self.worker_id}.{self.counter}"
                t = time.monotonic_ns()
                lag.append(t / 1e6 - scheduled * 1e3)
                frame = (
                    f'{{"type":"send_message","id":"{request_id}","data":{{"room":{conn.spec.room},'
                    f'"body":"t={t} {PAD}","client_id":"{uuid.uuid4()}"}}}}'
                )
                self.pending[request_id] = (conn, t)
                await self.send(conn, frame)
                sent += 1
            if sent + skipped < total:
                await asyncio.sleep(0.001)
        send_cpu = self_cpu_seconds() - cpu0
        send_wall = time.monotonic() - wall0
        # Drain: every ack in, and no frame for a second (other workers' messages still arriving).
        drain_deadline = time.monotonic() + drain_timeout
        while time.monotonic() < drain_deadline:
            quiet = (time.monotonic_ns() - self.last_frame_ns) / 1e9
            if not self.pending and quiet >= 1.0:
                break
            await asyncio.sleep(0.05)
        latency_path = os.path.join(tempfile.gettempdir(), f"confab-bench-lat-{os.getpid()}.bin")
        with open(latency_path, "wb") as f:
            self.latencies.tofile(f)
        lag_sorted = sorted(lag)
        ack_sorted = sorted(self.ack_latencies)
        return {
            "sent": sent,
            "skipped_closed": skipped,
            "unanswered": len(self.pending),
            "errors": {k: v - errors_before.get(k, 0) for k, v in self.errors.items() if v - errors_before.get(k, 0)},
            "deliveries": self.deliveries,
            "deliveries_in_window": self.in_window,
            "latency_file": latency_path,
            "latency_count": len(self.latencies),
            "ack_latencies": ack_sorted,
            "send_lag_p99_ms": lag_sorted[int(0.99 * (len(lag_sorted) - 1))] if lag_sorted else 0.0,
            "cpu_seconds": send_cpu,
            "wall_seconds": send_wall,
            "closed": sum(1 for c in self.conns if c.closed),
        }

    def audit(self, acked_by_room: dict[int, list[int]]) -> dict[str, Any]:
        losses = duplicates = out_of_order = foreign = closed = 0
        examples: list[str] = []
        for conn in self.conns:
            duplicates += conn.duplicates
            out_of_order += conn.out_of_order
            foreign += conn.foreign
            if conn.closed:
                closed += 1
                if len(examples) < 10:
                    examples.append(f"connection {conn.spec.index} (user {conn.spec.user}) closed: {conn.close_reason}")
            got = set(conn.seqs)
            missing = [seq for seq in acked_by_room.get(conn.spec.room, []) if seq not in got]
            losses += len(missing)
            if missing and len(examples) < 10:
                examples.append(
                    f"user {conn.spec.user} in room {conn.spec.room} missed {len(missing)} (first seqs {missing[:5]})"
                )
            if conn.duplicates and len(examples) < 10:
                examples.append(f"user {conn.spec.user} in room {conn.spec.room} got {conn.duplicates} duplicates")
            if conn.out_of_order and len(examples) < 10:
                examples.append(
                    f"user {conn.spec.user} in room {conn.spec.room} got {conn.out_of_order} out of seq order"
                )
        return {
            "losses": losses,
            "duplicates": duplicates,
            "out_of_order": out_of_order,
            "foreign": foreign,
            "closed": closed,
            "examples": examples,
            "other_frames": dict(self.other_frames),
        }

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        gate = asyncio.Semaphore(500)

        async def close_one(conn: Conn) -> None:
            async with gate:
                try:
                    if self.client_lib == "picows":
                        conn.ws.send_close()
                        conn.ws.disconnect()
                        await asyncio.wait_for(conn.ws.wait_disconnected(), 3)
                        return
                    await asyncio.wait_for(conn.ws.close(), 3)
                except Exception:  # noqa: BLE001 -- closing at the end; the server sees the drop either way
                    pass

        await asyncio.gather(*(close_one(c) for c in self.conns))


def _worker_main(worker_id: int, specs: list[ConnSpec], cpus: list[int], pipe, client_lib: str) -> None:
    pin_to(cpus)
    raise_nofile_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(worker_id, specs, pipe, client_lib))


async def _serve(worker_id: int, specs: list[ConnSpec], pipe, client_lib: str) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(worker_id, specs, client_lib)
    while True:
        command, args = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            pipe.send(await worker.connect(**args))
        elif command == "run":
            pipe.send(await worker.run(**args))
        elif command == "acked":
            pipe.send(dict(worker.acked))
        elif command == "audit":
            pipe.send(worker.audit(**args))
        elif command == "cpu":
            pipe.send(self_cpu_seconds())
        elif command == "count":
            closed = sum(1 for c in worker.conns if c.closed)
            pipe.send({"open": len(worker.conns) - closed, "closed": closed})
        elif command == "close":
            await worker.close()
            pipe.send({"closed": True})
            return


class GeneratorPool:
    """The parent's handle on the worker processes."""

    def __init__(self, specs: list[ConnSpec], workers: int, cpus: list[int], client_lib: str = "picows") -> None:
        context = multiprocessing.get_context("fork")
        self.pipes = []
        self.processes = []
        for w in range(workers):
            parent_end, child_end = context.Pipe()
            share = specs[w::workers]
            process = context.Process(
                target=_worker_main, args=(w, share, cpus, child_end, client_lib), daemon=True
            )
            process.start()
            self.pipes.append(parent_end)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def call(self, command: str, per_worker_args: list[dict] | dict | None = None) -> list[Any]:
        for i, pipe in enumerate(self.pipes):
            args = per_worker_args[i] if isinstance(per_worker_args, list) else (per_worker_args or {})
            pipe.send((command, args))
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        try:
            self.call("close")
        except (EOFError, OSError):
            pass
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
