"""`make run`'s way: the ASGI process itself delivers outgoing webhooks when WEBHOOK_WORKER_IN_PROCESS is on."""

import time

import pytest

from chat import actions as chat_actions
from chat.models import Message
from integrations import actions, worker

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_server_with_the_worker_in_process_delivers_and_posts_the_answer(
    ann, bob, group_room, receiver, start_server
):
    new = actions.check_create_outgoing_webhook(ann, group_room.id, name="Echo", url=receiver.url, trigger="all")
    receiver.secret = actions.do_create_outgoing_webhook(new)["secret"]
    receiver.answer = {"text": "pong"}
    start_server(
        server="uvicorn",
        extra_env={
            "WEBHOOK_WORKER_IN_PROCESS": "1",
            "WEBHOOK_WORKER_POLL_SECONDS": "0.2",
            "OUTGOING_WEBHOOK_ALLOW_PRIVATE": "1",
        },
    )
    chat_actions.send_message(bob, group_room.id, body="ping")
    assert wait_for(lambda: Message.objects.filter(room=group_room, body="pong").exists())
    assert [r.signature_ok for r in receiver.received] == [True]


def test_the_in_process_worker_stops_when_told(settings, monkeypatch):
    settings.WEBHOOK_WORKER_IN_PROCESS = True
    settings.WEBHOOK_WORKER_POLL_SECONDS = 0.05
    monkeypatch.setattr(worker, "_in_process", None)
    stop = worker.start_in_process_if_configured()
    thread, _ = worker._in_process
    assert thread.is_alive() and thread.daemon
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_without_the_setting_no_worker_starts(settings, monkeypatch):
    settings.WEBHOOK_WORKER_IN_PROCESS = False
    monkeypatch.setattr(worker, "_in_process", None)
    assert worker.start_in_process_if_configured() is None and worker._in_process is None
