"""The connection module (static/confab/client.js) in Chromium, against a scripted socket.

The live tests (test_chat_browser.py) show the outcomes; these pin down the
mechanisms behind them, which a real server cannot be made to misbehave for
on cue: a request the server never answers, a socket that keeps dropping, an
ack lost with the connection, the positions `sync` asks from. The page and
the module are served from the repository by Playwright's routing, so no
server or database is involved.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PROJECT_DIR
from tests.e2e.browser import launch_chromium

pytestmark = pytest.mark.browser

ORIGIN = "http://confab.test"

# A WebSocket stand-in the test drives by hand: open(), receive(frame), close(code).
FAKE_SOCKET = """() => {
window.sockets = [];
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    this.listeners = {};
    window.sockets.push(this);
  }
  addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000) {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.fire("close", { code });
  }
  open() { this.readyState = FakeSocket.OPEN; this.fire("open", {}); }
  receive(frame) { this.fire("message", { data: JSON.stringify(frame) }); }
  fire(type, event) { for (const listener of this.listeners[type] || []) listener(event); }
}
Object.assign(FakeSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
window.WebSocket = FakeSocket;
window.tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
window.ready = async (socket, data = {}) => {
  socket.open();
  socket.receive({ type: "ready", data: { rooms: [], ...data } });
  await tick();
};
}"""


@pytest.fixture(scope="module")
def module_browser() -> Iterator:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def client_page(module_browser):
    """A blank page of a made-up origin whose /static/ is the repository's static/ folder."""
    context = module_browser.new_context()
    context.set_default_timeout(10_000)

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
        if path.startswith("/static/"):
            file = PROJECT_DIR / "static" / path.removeprefix("/static/")
            route.fulfill(status=200, body=file.read_bytes(), content_type="text/javascript")
        else:
            route.fulfill(status=200, body="<!doctype html><title>client</title>", content_type="text/html")

    context.route(f"{ORIGIN}/**", serve)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ORIGIN}/")
    page.evaluate(FAKE_SOCKET)
    yield page
    context.close()
    assert errors == []


def test_a_request_resolves_with_its_ack_and_one_without_an_answer_rejects_with_a_timeout(client_page):
    result = client_page.evaluate(
        """async () => {
            const { ConfabClient } = await import("/static/confab/client.js");
            const client = new ConfabClient({
                url: "ws://confab.test/ws/chat/", userId: 1, requestTimeout: 100, storage: null,
            });
            client.connect();
            const socket = sockets[0];
            await ready(socket);
            const answered = client.request("join_room", { room: 4 });
            const frame = socket.sent.at(-1);
            socket.receive({ type: "ack", id: frame.id, data: { id: 4 } });
            const unanswered = client.request("ping");
            let failure = null;
            try { await unanswered; } catch (error) { failure = { code: error.code, name: error.name }; }
            const refused = client.request("leave_room", { room: 4 });
            const refusedId = socket.sent.at(-1).id;
            socket.receive({ type: "error", id: refusedId, data: { code: "not_found", message: "Room not found." } });
            let refusal = null;
            try { await refused; } catch (error) { refusal = { code: error.code, message: error.message }; }
            return { frame, answer: await answered, failure, refusal, pending: client.pending.size };
        }"""
    )
    assert result["frame"]["type"] == "join_room"
    assert result["frame"]["data"] == {"room": 4}
    assert result["answer"] == {"id": 4}
    assert result["failure"] == {"code": "timeout", "name": "Error"}
    assert result["refusal"] == {"code": "not_found", "message": "Room not found."}
    assert result["pending"] == 0


def test_reconnects_back_off_exponentially_with_jitter_and_start_over_after_ready(client_page):
    delays = client_page.evaluate(
        """async () => {
            const { ConfabClient } = await import("/static/confab/client.js");
            const client = new ConfabClient({
                url: "ws://confab.test/ws/chat/", userId: 1, storage: null, backoffBase: 20, backoffMax: 160,
            });
            const delays = [];
            client.on("reconnecting", ({ delay }) => delays.push(delay));
            client.connect();
            for (let attempt = 0; attempt < 6; attempt += 1) {
                sockets.at(-1).close(1006);  // dropped before it ever got ready
                await tick(delays.at(-1) + 40);
            }
            await ready(sockets.at(-1));
            const state = client.state;
            sockets.at(-1).close(1006);
            return { delays, state, sockets: sockets.length };
        }"""
    )
    ceilings = [20, 40, 80, 160, 160, 160, 20]  # doubling up to the cap; back to the base after `ready`
    assert len(delays["delays"]) == 7
    for delay, ceiling in zip(delays["delays"], ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert delays["state"] == "online"
    assert delays["sockets"] == 7  # one new socket per attempt, never two at once


def test_a_message_whose_ack_was_lost_is_resent_once_with_the_same_client_id_and_kept_in_session_storage(client_page):
    result = client_page.evaluate(
        """async () => {
            const { ConfabClient } = await import("/static/confab/client.js");
            const options = { url: "ws://confab.test/ws/chat/", userId: 7, backoffBase: 10, backoffMax: 20 };
            const client = new ConfabClient(options);
            const sent = [];
            client.on("sent", ({ message }) => sent.push(message.id));
            client.connect();
            await ready(sockets.at(-1));
            const entry = client.sendMessage(3, { body: "hello", reply_to: 8 });
            await tick();
            const first = sockets.at(-1).sent.find((frame) => frame.type === "send_message");
            sockets.at(-1).close(1006);  // the ack is lost with the connection
            await tick();
            const stored = JSON.parse(sessionStorage.getItem("confab.outbox.7"));
            const afterReload = new ConfabClient(options).outbox.map((item) => item.client_id);
            await tick(40);
            const socket = sockets.at(-1);
            await ready(socket);
            const second = socket.sent.find((frame) => frame.type === "send_message");
            const message = { id: 99, room: 3, seq: 1, client_id: entry.client_id };
            socket.receive({ type: "ack", id: second.id, data: { message } });
            await tick();
            return {
                entry: entry.client_id, first: first.data, second: second.data,
                stored: stored.map((item) => item.client_id), afterReload, sent,
                outbox: client.outbox.length, storage: sessionStorage.getItem("confab.outbox.7"),
                sends: sockets.flatMap((s) => s.sent).filter((frame) => frame.type === "send_message").length,
            };
        }"""
    )
    entry = result["entry"]
    assert result["first"] == {"room": 3, "body": "hello", "client_id": entry, "reply_to": 8}
    assert result["second"] == result["first"]
    assert result["stored"] == [entry]
    assert result["afterReload"] == [entry]
    assert result["sent"] == [99]
    assert result["sends"] == 2
    assert result["outbox"] == 0
    assert result["storage"] is None


def test_every_connection_syncs_from_the_last_seq_held_per_room_and_the_last_server_time(client_page):
    result = client_page.evaluate(
        """async () => {
            const { ConfabClient } = await import("/static/confab/client.js");
            const client = new ConfabClient({
                url: "ws://confab.test/ws/chat/", userId: 1, storage: null, backoffBase: 10, backoffMax: 20,
                serverTime: "2026-11-24T08:00:00Z",
            });
            const synced = [];
            client.on("synced", (data) => synced.push(data));
            client.track(3, 10);
            client.track(4, 2);
            client.connect();
            await ready(sockets.at(-1));
            const first = sockets.at(-1).sent.find((frame) => frame.type === "sync");
            sockets.at(-1).receive({ type: "ack", id: first.id, data: {
                messages: { "3": [{ id: 41, room: 3, seq: 11 }], "4": [] }, has_more: { "3": false, "4": false },
                changed: { "3": [], "4": [] }, unknown_rooms: [], server_time: "2026-11-24T09:00:00Z",
            } });
            await tick();
            client.track(3, 11);  // what the room view does with the message
            sockets.at(-1).close(1006);
            await tick(40);
            await ready(sockets.at(-1));
            const second = sockets.at(-1).sent.find((frame) => frame.type === "sync");
            return { first: first.data, second: second.data, synced };
        }"""
    )
    assert result["first"] == {"rooms": {"3": 10, "4": 2}, "since": "2026-11-24T08:00:00Z"}
    assert result["second"] == {"rooms": {"3": 11, "4": 2}, "since": "2026-11-24T09:00:00Z"}
    assert result["synced"] == [
        {"room": 3, "messages": [{"id": 41, "room": 3, "seq": 11}], "changed": [], "has_more": False},
        {"room": 4, "messages": [], "changed": [], "has_more": False},
    ]
