"""The test fixtures run the channel layers production runs (config/settings.py), not stand-ins."""

from __future__ import annotations

import os

import pytest
from channels.layers import get_channel_layer

from realtime.layers import LocalChannelLayer, RedisFanOutChannelLayer


def test_the_embedded_fixture_runs_the_embedded_layer(embedded):
    assert type(get_channel_layer()) is LocalChannelLayer


def test_the_redis_fixture_runs_the_redis_fan_out_layer(redis_url):
    if os.environ.get("CHANNEL_LAYER", "pubsub") != "pubsub":
        pytest.skip("this run chose another layer with CHANNEL_LAYER")
    assert type(get_channel_layer()) is RedisFanOutChannelLayer
