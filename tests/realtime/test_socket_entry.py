"""The socket entry (realtime.socket.ChatSocket): what it leaves in a connection's scope."""

from __future__ import annotations

import pytest

from realtime import shutdown
from realtime.socket import ANONYMOUS_USER

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sockets_without_a_session_cookie_share_one_anonymous_scope_user(ws_connect, ann, bob):
    before = set(shutdown.state.sockets)
    await ws_connect(ann)  # signed in with ``authenticate``: the consumer holds the user, not the scope
    await ws_connect(bob)

    opened = shutdown.state.sockets - before
    assert [consumer.scope["user"] is ANONYMOUS_USER for consumer in opened] == [True, True]
    assert {consumer.user.username for consumer in opened} == {"ann", "bob"}
