"""Presence fixtures: the same tests on the embedded default and on Redis."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["embedded", "redis"])
def backend(request, settings) -> str:
    """Run the test on the in-process store and in-memory layer, then on Redis for both."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from presence import store

    store.reset_local()
    return request.param


@pytest.fixture
def second_room(ann, bob):
    """Another room Ann and Bob share (presence events must still reach Bob once)."""
    from chat import actions
    from chat.models import Room

    return Room.objects.get(pk=actions.create_group_room(ann, name="Random", members=[bob.id])["id"])
