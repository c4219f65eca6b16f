"""Presence fixtures: the same tests on the embedded default and on Redis."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["embedded", "redis"])
def backend(request) -> str:
    """Run the test on the in-process store and layer (the embedded default), then on Redis for both."""
    request.getfixturevalue("redis_url" if request.param == "redis" else "embedded")
    return request.param


@pytest.fixture
def second_room(ann, bob):
    """Another room Ann and Bob share (presence events must still reach Bob once)."""
    from chat import actions
    from chat.models import Room

    return Room.objects.get(pk=actions.create_group_room(ann, name="Random", members=[bob.id])["id"])
