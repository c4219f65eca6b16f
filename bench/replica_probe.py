"""What read-your-writes on the replica costs: the freshness probes against the reads they guard.

    DATABASE_URL=postgres://... DATABASE_REPLICA_URL=postgres://... python -m bench.replica_probe [rooms] [messages]

Seeds one user in ``rooms`` rooms of ``messages`` messages each (in the database DATABASE_URL names, which
must be migrated and disposable), waits until the replica has replayed it, then times (median of 200, in
microseconds, client included) each probe and each read it guards. The figures go to docs/deploy.md with
the date and the machine's load.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402

from chat import actions, queries  # noqa: E402
from chat.models import Room  # noqa: E402
from core.replica import REPLICA, read_on_replica  # noqa: E402

RUNS = 200


def median_us(call: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main(rooms: int, messages: int) -> None:
    user_model = get_user_model()
    tag = str(time.time_ns())
    user = user_model.objects.create_user(username=f"probe{tag}", password="x" * 12)
    other = user_model.objects.create_user(username=f"peer{tag}", password="x" * 12)
    room_ids = [actions.create_group_room(user, name=f"r{n}", members=[other.id])["id"] for n in range(rooms)]
    for room_id in room_ids:
        for n in range(messages):
            actions.send_message(other, room_id, body=f"message {n} about the quarterly report")
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        target = cursor.fetchone()[0]
    with connections[REPLICA].cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                break
            time.sleep(0.01)
    room = Room.objects.get(pk=room_ids[0])
    room_probe = queries.replica_has_room(room)
    user_probe = queries.replica_has_user_rooms(user.pk)
    replica = connections[REPLICA]

    def room_list():
        return queries.room_summaries(queries.user_memberships(user))

    def on_replica(probe):
        with replica.cursor() as cursor:
            return probe(cursor)

    rows = [
        ("room probe (replica only)", median_us(lambda: on_replica(room_probe))),
        ("history page, primary, no probe", median_us(lambda: queries.history_page_from_database(room.pk))),
        (
            "history page via read_on_replica",
            median_us(lambda: read_on_replica(room_probe, lambda: queries.history_page_from_database(room.pk))),
        ),
        ("user fingerprint probe (primary + replica)", median_us(lambda: on_replica(user_probe))),
        ("room list, primary, no probe", median_us(room_list)),
        (
            "room list via read_on_replica",
            median_us(
                lambda: read_on_replica(user_probe, lambda: queries.room_summaries(queries.user_memberships(user)))
            ),
        ),
    ]
    print(f"rooms={rooms} messages/room={messages} runs={RUNS} (median microseconds)")
    for name, value in rows:
        print(f"  {name:45s} {value:9.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50, int(sys.argv[2]) if len(sys.argv) > 2 else 60)
