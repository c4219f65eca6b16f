"""Without DATABASE_REPLICA_URL every read is on the primary, and reading costs nothing more."""

from __future__ import annotations

import pytest
from django.db import connections

from chat import actions
from core.metrics import counts
from core.replica import REPLICA

pytestmark = pytest.mark.django_db


def test_without_a_replica_a_read_makes_no_probe(postgres, api_for, ann, group_room):
    actions.send_message(ann, group_room.id, body="hello")
    reads, stale, failures = counts.replica_reads, counts.replica_stale, counts.replica_failures

    page = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/").json()

    assert REPLICA not in connections.settings
    assert [m["body"] for m in page["messages"]] == ["hello"]
    assert (counts.replica_reads, counts.replica_stale, counts.replica_failures) == (reads, stale, failures)
