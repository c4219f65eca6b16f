"""A Redis connection whose transport closed under it fails as a lost connection, not a RuntimeError.

Under uvloop, writing to a closed transport raises ``RuntimeError``; redis-py's
cluster client retries lost connections only. The transports here are really
closed (aborted) under the connections, on a real cluster, in a uvloop loop as
the servers run.
"""

import asyncio

import uvloop

from core.redis import ClosedTransportSafeConnection, async_cluster_client, cluster_nodes


async def _abort_every_transport(client) -> int:
    """Close every connection's transport under it, and let the loop finish closing them (a write to a
    transport still closing fails as a lost connection already; to a closed one, as a RuntimeError)."""
    aborted = 0
    for node in client.get_nodes():
        assert type(node.connection_class) is type and node.connection_class is ClosedTransportSafeConnection
        for connection in node._connections:
            if connection._writer is not None:
                connection._writer.transport.abort()
                aborted += 1
    for _ in range(3):
        await asyncio.sleep(0)
    return aborted


def test_a_cluster_command_on_a_connection_closed_under_it_is_retried_and_answered(redis_cluster):
    async def main():
        client = async_cluster_client(cluster_nodes(redis_cluster.url), connect_timeout=5, timeout=5)
        try:
            await client.set("{closed-transport}key", "kept")
            assert await _abort_every_transport(client) >= 1
            return await client.get("{closed-transport}key")
        finally:
            await client.aclose()

    assert uvloop.run(main()) == b"kept"


def test_a_write_to_a_closed_transport_raises_a_connection_error(redis_cluster):
    import redis.exceptions

    host, port = cluster_nodes(redis_cluster.url)[0]

    async def main():
        connection = ClosedTransportSafeConnection(host=host, port=port)
        await connection.connect()
        connection._writer.transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)
        try:
            await connection.send_command("PING")
        except redis.exceptions.ConnectionError as error:
            return error
        finally:
            await connection.disconnect()

    assert "closed while a command was written" in str(uvloop.run(main()))


def test_a_write_after_the_connection_was_disconnected_under_it_raises_a_connection_error(redis_cluster):
    import redis.exceptions

    host, port = cluster_nodes(redis_cluster.url)[0]

    class DisconnectedWhileWaiting(ClosedTransportSafeConnection):
        armed = False

        async def check_health(self):
            if self.armed:
                await self.disconnect()  # what another command's disconnect() does while this one awaits

    async def main():
        connection = DisconnectedWhileWaiting(host=host, port=port)
        await connection.connect()
        connection.armed = True
        try:
            await connection.send_packed_command(connection.pack_command("PING"), check_health=True)
        except redis.exceptions.ConnectionError as error:
            return error

    assert "closed while a command was written" in str(uvloop.run(main()))


def test_presence_reads_are_answered_after_a_connection_closed_under_them(cluster_redis_url):
    """What a connect reads (who is online, who is typing) is answered on fresh connections, not failed
    with the RuntimeError that used to end the handshake."""
    from core.redis import async_client
    from presence import store

    async def main():
        client = async_client()
        try:
            assert await store.online_user_ids([1, 2]) == set()
            assert await store.typing_in_rooms([1]) == []
            assert await _abort_every_transport(client) >= 1
            return await store.online_user_ids([1, 2]), await store.typing_in_rooms([1])
        finally:
            await client.aclose()

    assert uvloop.run(main()) == (set(), [])
