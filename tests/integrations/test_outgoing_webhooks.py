"""Outgoing webhooks: matching messages POSTed signed by the worker to a real receiver, with retries."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message
from integrations import worker
from integrations.models import Delivery, OutgoingWebhook
from tests.conftest import PROJECT_DIR, database_url_for_subprocess

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick(settings):
    settings.OUTGOING_WEBHOOK_BACKOFF = 0
    settings.OUTGOING_WEBHOOK_TIMEOUT = 2


def register(api_for, ann, room, receiver, **fields) -> dict:
    data = {"name": "Echo", "url": receiver.url, "trigger": "all", **fields}
    response = api_for(ann).post(f"/api/v1/rooms/{room.id}/outgoing-webhooks/", data, format="json")
    assert response.status_code == 201, response.json()
    receiver.secret = response.json()["secret"]
    return response.json()


def bodies(room) -> list[str]:
    return list(
        Message.objects.filter(room=room)
        .exclude(kind=Message.Kind.SYSTEM)
        .order_by("seq")
        .values_list("body", flat=True)
    )


def test_registering_answers_the_secret_once(api_for, ann, group_room, receiver):
    hook = register(api_for, ann, group_room, receiver)
    assert len(hook["secret"]) == 64 and hook["trigger"] == "all" and hook["bot"]["is_bot"] is True
    listed = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/").json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]


def test_a_message_is_posted_signed_and_the_answer_is_posted_back_as_the_bot(api_for, ann, bob, group_room, receiver):
    hook = register(api_for, ann, group_room, receiver)
    receiver.answer = {"text": "pong"}
    sent, _ = chat_actions.send_message(bob, group_room.id, body="ping")
    assert worker.run_once() == 1
    [received] = receiver.received
    assert received.signature_ok
    assert received.json["event"] == "message" and received.json["webhook"] == {"id": hook["id"], "name": "Echo"}
    assert received.json["message"]["id"] == sent["id"] and received.json["message"]["body"] == "ping"
    assert received.json["message"]["sender"]["id"] == bob.id
    assert Delivery.objects.get().status == "delivered"
    reply = Message.objects.get(body="pong")
    assert reply.sender_id == hook["bot"]["id"] and reply.room_id == group_room.id


def test_a_receiver_with_another_secret_finds_the_signature_wrong(api_for, ann, bob, group_room, receiver):
    register(api_for, ann, group_room, receiver)
    receiver.secret = "not-the-secret"
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    assert [r.signature_ok for r in receiver.received] == [False]


def test_the_answer_of_the_bot_is_not_delivered_again(api_for, ann, bob, group_room, receiver):
    register(api_for, ann, group_room, receiver)
    receiver.answer = {"text": "pong"}
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    worker.run_once()
    assert len(receiver.received) == 1 and bodies(group_room) == ["ping", "pong"]


def test_messages_sent_before_registering_are_not_delivered(api_for, ann, bob, group_room, receiver):
    chat_actions.send_message(bob, group_room.id, body="old")
    register(api_for, ann, group_room, receiver)
    assert worker.run_once() == 0 and receiver.received == []


def test_a_prefix_webhook_gets_only_messages_starting_with_its_word(api_for, ann, bob, group_room, receiver):
    register(api_for, ann, group_room, receiver, trigger="prefix", trigger_word="!deploy")
    for body in ["hello", "!deploy prod", "say !deploy"]:
        chat_actions.send_message(bob, group_room.id, body=body)
    worker.run_once()
    assert [r.json["message"]["body"] for r in receiver.received] == ["!deploy prod"]


def test_a_prefix_webhook_needs_its_word(api_for, ann, group_room, receiver):
    data = {"name": "P", "url": receiver.url, "trigger": "prefix"}
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/", data, format="json")
    assert response.status_code == 400 and not OutgoingWebhook.objects.exists()


def test_a_mention_webhook_gets_only_messages_mentioning_its_bot(api_for, ann, bob, group_room, receiver):
    hook = register(api_for, ann, group_room, receiver, trigger="mention")
    chat_actions.send_message(bob, group_room.id, body="nothing here")
    chat_actions.send_message(bob, group_room.id, body=f"hey @{hook['bot']['username']} status?")
    worker.run_once()
    assert [r.json["message"]["body"] for r in receiver.received] == [f"hey @{hook['bot']['username']} status?"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://example.com/", "/relative", "http://"])
def test_a_url_that_is_not_http_is_refused(api_for, ann, group_room, url):
    data = {"name": "X", "url": url, "trigger": "all"}
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/", data, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not OutgoingWebhook.objects.exists()


def test_only_room_admins_register_outgoing_webhooks(api_for, bob, group_room, receiver):
    data = {"name": "X", "url": receiver.url, "trigger": "all"}
    assert (
        api_for(bob).post(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/", data, format="json").status_code == 403
    )


def test_a_slow_receiver_times_out_and_the_delivery_is_retried(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_TIMEOUT = 0.3
    settings.OUTGOING_WEBHOOK_BACKOFF = 30
    register(api_for, ann, group_room, receiver)
    receiver.delay = 1.0
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and "timed out" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=25)  # backed off
    receiver.delay = 0
    Delivery.objects.update(next_attempt_at=timezone.now())
    worker.run_once()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2 and len(receiver.received) == 2


def test_a_failing_receiver_is_tried_max_attempts_times_then_given_up(
    api_for, ann, bob, group_room, receiver, settings
):
    settings.OUTGOING_WEBHOOK_MAX_ATTEMPTS = 3
    register(api_for, ann, group_room, receiver)
    receiver.status = 500
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once(max_deliveries=10)
    delivery = Delivery.objects.get()
    assert len(receiver.received) == 3
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == (
        "failed",
        3,
        500,
        "HTTP 500",
    )
    assert delivery.finished_at is not None


def test_an_unreachable_receiver_is_retried_then_given_up(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_MAX_ATTEMPTS = 2
    register(api_for, ann, group_room, receiver)
    OutgoingWebhook.objects.update(url="http://127.0.0.1:9/closed")
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once(max_deliveries=10)
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 2 and "refused" in delivery.last_error.lower()


def test_past_the_pending_limit_new_deliveries_are_dropped_and_counted(
    api_for, ann, bob, group_room, receiver, settings
):
    settings.OUTGOING_WEBHOOK_PENDING_MAX = 2
    register(api_for, ann, group_room, receiver)
    for n in range(3):
        chat_actions.send_message(bob, group_room.id, body=f"m{n}")
    assert worker.queue_new_messages() == 2
    assert [d.payload["message"]["body"] for d in Delivery.objects.all()] == ["m0", "m1"]
    assert OutgoingWebhook.objects.get().dropped == 1
    assert api_for(ann).get(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/").json()[0]["dropped"] == 1


def test_queueing_reads_any_number_of_messages_in_a_fixed_number_of_queries(
    api_for, ann, bob, group_room, receiver, django_assert_num_queries
):
    register(api_for, ann, group_room, receiver)
    for n in range(20):
        chat_actions.send_message(bob, group_room.id, body=f"m{n}")
    # savepoint, the locked webhooks, the messages (with senders), the cursors; savepoint, the pending
    # counts, the deliveries, release x2: the same for 1 message or 500.
    with django_assert_num_queries(9):
        assert worker.queue_new_messages() == 20


def test_revoking_gives_up_its_pending_deliveries(api_for, ann, bob, group_room, receiver):
    hook = register(api_for, ann, group_room, receiver)
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.queue_new_messages()
    assert api_for(ann).delete(f"/api/v1/outgoing-webhooks/{hook['id']}/").status_code == 204
    assert worker.run_once() == 0 and receiver.received == []
    assert Delivery.objects.get().status == "failed"


def test_a_command_answer_is_posted_back(api_for, ann, bob, group_room, receiver):
    created = api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/", {"command": "weather", "url": receiver.url}, format="json"
    )
    receiver.secret = created.json()["secret"]
    receiver.answer = {"text": "Sunny"}
    api_for(bob).post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": "/weather Paris"}, format="json")
    worker.run_once()
    [received] = receiver.received
    assert received.signature_ok and received.json["command"] == "weather" and received.json["text"] == "Paris"
    assert bodies(group_room) == ["Sunny"]


def test_the_worker_command_finishes_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "1",
        "WEBHOOK_WORKER_POLL_SECONDS": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_webhook_worker"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "webhook worker running"
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "webhook worker stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_a_redirect_is_not_followed_but_counted_as_a_failed_try(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_MAX_ATTEMPTS = 1
    register(api_for, ann, group_room, receiver)
    receiver.status = 302
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    delivery = Delivery.objects.get()
    assert len(receiver.received) == 1 and (delivery.status, delivery.last_error) == ("failed", "HTTP 302")


def test_an_answer_longer_than_the_limit_posts_nothing(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES = 50
    register(api_for, ann, group_room, receiver)
    receiver.answer = {"text": "x" * 100}
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    assert Delivery.objects.get().status == "delivered" and bodies(group_room) == ["ping"]


def test_an_answer_the_send_action_refuses_is_recorded_on_the_delivery(
    api_for, ann, bob, group_room, receiver, settings
):
    settings.MESSAGE_MAX_LENGTH = 10
    register(api_for, ann, group_room, receiver)
    receiver.answer = {"text": "x" * 11}
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered" and delivery.last_error.startswith("The answer was not posted:")
    assert bodies(group_room) == ["ping"]


def test_a_scan_reads_at_most_its_batch_and_the_rest_next_round(api_for, ann, bob, group_room, receiver, monkeypatch):
    monkeypatch.setattr(worker, "SCAN_BATCH", 2)
    register(api_for, ann, group_room, receiver)
    for n in range(3):
        chat_actions.send_message(bob, group_room.id, body=f"m{n}")
    assert worker.queue_new_messages() == 2
    assert worker.queue_new_messages() == 1
    assert worker.queue_new_messages() == 0
    assert [d.payload["message"]["body"] for d in Delivery.objects.all()] == ["m0", "m1", "m2"]


def test_past_webhooks_per_room_max_no_outgoing_webhook_is_registered(api_for, ann, group_room, receiver, settings):
    settings.WEBHOOKS_PER_ROOM_MAX = 1
    data = {"name": "E", "url": receiver.url, "trigger": "all"}
    client = api_for(ann)
    codes = [
        client.post(f"/api/v1/rooms/{group_room.id}/outgoing-webhooks/", data, format="json").status_code for _ in "ab"
    ]
    assert codes == [201, 403] and OutgoingWebhook.objects.count() == 1


def test_a_custom_command_with_its_queue_full_is_unavailable(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_PENDING_MAX = 1
    api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/", {"command": "deploy", "url": receiver.url}, format="json"
    )
    client = api_for(bob)
    assert (
        client.post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": "/deploy a"}, format="json").status_code == 200
    )
    response = client.post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": "/deploy b"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert Delivery.objects.count() == 1


def test_a_custom_command_takes_a_slot_of_the_send_budget(api_for, ann, bob, group_room, receiver, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/", {"command": "deploy", "url": receiver.url}, format="json"
    )
    client = api_for(bob)
    codes = [
        client.post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": "/deploy"}, format="json").status_code
        for _ in "ab"
    ]
    assert codes == [200, 429] and Delivery.objects.count() == 1


def test_an_answer_trickling_past_the_timeout_is_a_timed_out_try(api_for, ann, bob, group_room, receiver, settings):
    settings.OUTGOING_WEBHOOK_TIMEOUT = 0.5
    settings.OUTGOING_WEBHOOK_BACKOFF = 30
    register(api_for, ann, group_room, receiver)
    receiver.answer = {"text": "a slow answer"}
    receiver.trickle = 0.1  # each byte well within the socket timeout, the whole answer far past it
    chat_actions.send_message(bob, group_room.id, body="ping")
    started = time.monotonic()
    worker.run_once()
    assert time.monotonic() - started < 2
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and "OUTGOING_WEBHOOK_TIMEOUT" in delivery.last_error
    assert bodies(group_room) == ["ping"]


def test_without_allow_private_an_internal_address_is_given_up_unsent(
    api_for, ann, bob, group_room, receiver, settings
):
    settings.OUTGOING_WEBHOOK_ALLOW_PRIVATE = False
    register(api_for, ann, group_room, receiver)
    chat_actions.send_message(bob, group_room.id, body="ping")
    worker.run_once()
    delivery = Delivery.objects.get()
    assert receiver.received == []
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error.startswith("Refused: 127.0.0.1 is an internal address")
