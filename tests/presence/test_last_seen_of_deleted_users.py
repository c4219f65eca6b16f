"""The per-process ``last_seen`` batch survives a user deleted while their socket was open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from presence.actions import record_last_seen
from presence.models import Presence

pytestmark = pytest.mark.django_db


def test_record_last_seen_skips_a_deleted_user_and_writes_the_others(ann, bob):
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    deleted_id = bob.id
    bob.delete()

    record_last_seen({ann.id: at, deleted_id: at})

    assert list(Presence.objects.values_list("user_id", "last_seen")) == [(ann.id, at)]
