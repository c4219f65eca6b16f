"""The runtime runs only on the versions whose internals it was written against.

``realtime`` subclasses and patches private parts of Channels, channels_redis,
redis-py, uvicorn and Django; each module says which versions it was written
for (``SUPPORTED_VERSIONS``). An upgrade out of a range fails here, before it
fails in production, so its internals get read again first.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

import realtime.consumer
import realtime.layers
import realtime.socket
import realtime.uvicorn_sansio

from ..conftest import PROJECT_DIR

MODULES = [realtime.layers, realtime.consumer, realtime.socket, realtime.uvicorn_sansio]
RANGES = [
    pytest.param(distribution, lowest, unsupported, id=f"{module.__name__}:{distribution}")
    for module in MODULES
    for distribution, (lowest, unsupported) in module.SUPPORTED_VERSIONS.items()
]


def release(text: str) -> tuple[int, ...]:
    """The release numbers of a version ("5.2.19" -> (5, 2, 19); "6.0a1" -> (6, 0))."""
    return tuple(int(part) for part in re.match(r"\d+(?:\.\d+)*", text).group().split("."))


@pytest.mark.parametrize(("distribution", "lowest", "unsupported"), RANGES)
def test_the_installed_version_is_one_the_runtime_was_written_for(distribution, lowest, unsupported):
    installed = version(distribution)
    assert release(lowest) <= release(installed) < release(unsupported), (
        f"{distribution} {installed} is outside [{lowest}, {unsupported}): read the internals the module uses"
    )


def test_every_distribution_whose_internals_the_runtime_uses_has_a_range():
    covered = {distribution for module in MODULES for distribution in module.SUPPORTED_VERSIONS}
    assert covered == {"django", "channels", "channels-redis", "redis", "uvicorn", "websockets"}


def test_a_release_before_the_next_minor_is_within_it():
    assert release("4.3.99") < release("4.4") <= release("4.4.0") < release("4.4.1")


DAPHNE_LIKE_SOCKET = """
import asyncio, json, sys
from channels.testing import WebsocketCommunicator
from config.asgi import application

async def main():
    communicator = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.disconnect()

asyncio.run(main())
print(json.dumps(sorted(name for name in sys.modules if name.startswith(("realtime", "uvicorn")))))
"""


def test_a_socket_served_by_another_server_never_imports_the_uvicorn_tweak():
    """The accept (``release_handshake``) imports it only when the server's ``send`` is uvicorn's sansio protocol."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "-c", DAPHNE_LIKE_SOCKET],
        cwd=PROJECT_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert "realtime.consumer" in imported  # the socket was served by the runtime
    assert [name for name in imported if name.startswith("uvicorn") or name == "realtime.uvicorn_sansio"] == []
