"""Concurrency on a real PostgreSQL: one upload, two sends at once."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection

from chat import actions as chat_actions
from chat.models import Message
from core.errors import ActionError
from uploads import actions
from uploads.models import Upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_sends_attach_an_upload_to_exactly_one_message(postgres, ann, group_room):
    upload = actions.create_upload(ann, io.BytesIO(b"shared text"), "shared.txt")
    # Two rooms, so the sends do not queue on one room's seq lock: the upload row lock decides.
    other_room = chat_actions.create_group_room(ann, name="Other")["id"]
    rooms = [group_room.id, other_room, group_room.id, other_room]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def send(index: int) -> None:
        try:
            barrier.wait()
            chat_actions.send_message(ann, rooms[index], body=f"try {index}", attachments=[upload.id])
            outcomes.append("sent")
        except ActionError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["invalid", "invalid", "invalid", "sent"]
    message = Message.objects.get(room_id__in=rooms)
    assert Upload.objects.get(pk=upload.pk).message_id == message.pk
