"""A backup of a live server (docs/deploy.md, "Backups"): `pg_dump -Fc` while a process serves, restored
with `pg_restore` into a fresh database, holds every message with its id, seq and body."""

from __future__ import annotations

import os
import subprocess
import uuid

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from chat import actions
from chat.models import Message
from tests.conftest import database_url_for_subprocess
from tests.wsclient import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]


def pg(*command: str) -> None:
    """A PostgreSQL client program against the test database's server, as the docs run it."""
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGHOST": db.get("HOST") or "127.0.0.1", "PGPORT": str(db.get("PORT") or 5432)}
    if db.get("USER"):
        env["PGUSER"] = db["USER"]
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)


async def test_a_dump_of_a_live_server_restores_every_message(postgres, start_server, tmp_path, ann, bob, group_room):
    server = start_server(server="uvicorn-sansio", extra_env={"RATE_LIMIT_MESSAGES": "0"})
    client = await Client.open(server, bob)
    for n in range(5):  # through the actions in this process...
        await sync_to_async(actions.send_message)(ann, group_room.id, body=f"direct {n}", client_id=str(uuid.uuid4()))
    for n in range(5):  # ...and through the running server
        ack = await client.request("send_message", {"room": group_room.id, "body": f"socket {n}"})
        assert ack["type"] == "ack", ack
    written = await sync_to_async(list)(Message.objects.filter(room=group_room).values_list("id", "seq", "body"))

    dump = tmp_path / "confab.dump"
    restored = f"confab_restore_{uuid.uuid4().hex[:12]}"
    # With the server up and its socket open: pg_dump reads one consistent snapshot, no pause needed.
    await sync_to_async(pg)("pg_dump", "-Fc", "--no-owner", "-f", str(dump), "-d", database_url_for_subprocess())
    await client.close()
    await sync_to_async(pg)("createdb", restored)
    try:
        await sync_to_async(pg)("pg_restore", "--no-owner", "--exit-on-error", "-d", restored, str(dump))
        restored_url = database_url_for_subprocess().rsplit("/", 1)[0] + f"/{restored}"
        async with await psycopg.AsyncConnection.connect(restored_url) as connection:
            cursor = await connection.execute(
                "SELECT id, seq, body FROM chat_message WHERE room_id = %s ORDER BY seq", [group_room.id]
            )
            found = await cursor.fetchall()
    finally:
        await sync_to_async(pg)("dropdb", "--if-exists", restored)

    assert sorted(found) == sorted(written)
    assert len(found) == 10
