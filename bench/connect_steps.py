"""A connect's steps timed in one process: CPU per call of each, without sockets (run by the harness).

Runs as ``python -m bench.connect_steps --spec JSON --out FILE`` in the server's environment (the code
under test on ``PYTHONPATH``, its database and Redis), pinned to the server's cores. It seeds one room of
``members`` members, records every other member online, and times, as one connect of the first member
would run them:

- ``token``: the access token to its user (``accounts.queries.user_for_access_token``);
- ``load``: a connect's one database-thread call (``chat.consumers._authenticate_and_load``: the token,
  then its user's row, ``ready``'s rooms and unread count and the co-members' presence rows, sent to
  PostgreSQL together, ``core.compiled.read_together``);
- ``load_batched``: the same per token, for sixteen members' tokens (all, in a smaller room) loaded in
  one call, as connects that arrive together are (``chat.consumers._authenticate_and_load_many``;
  code from before it loads them one by one, so there its figure is ``load``'s);
- ``presence_ask``: recording the connection, asking which co-members are online and reading who
  types in its room (``presence.store.add_connection_and_ask``, on an event loop: one Redis round trip,
  two for code before the typists were read by the same script);
- ``snapshot``: ``ready``'s presence objects from the rows (``presence.actions.snapshot_from_rows``).

Each figure is the thread's CPU (``time.thread_time``) per call over ``iterations`` calls, in
``rounds`` rounds that take the steps in turn, and the median of the rounds. The whole connect
(handshake, frames, fan-out of ``user_online``) is ``connections``' figure; these steps are a part of it
that a sitting's machine noise moves much less, so a change of a tenth of a millisecond shows.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

from . import in_server


def main() -> None:
    in_server.main(
        lambda spec: measure(
            members=int(spec["members"]), iterations=int(spec["iterations"]), rounds=int(spec["rounds"])
        )
    )


def measure(*, members: int, iterations: int, rounds: int) -> dict[str, Any]:
    from accounts.queries import user_for_access_token
    from chat import consumers
    from presence import actions, store

    from .seed import seed

    room = seed(rooms=1, members=members, history=20, prefix="steps")["rooms"][0]
    me, co_members = room["members"][0], [member["user"] for member in room["members"][1:]]
    token, user_id = me["token"], me["user"]
    batch = [member["token"] for member in room["members"][:16]]
    load_many = getattr(consumers, "_authenticate_and_load_many", None)  # code since the connect batches

    def load_batch() -> None:
        if load_many is not None:
            load_many(batch)
        else:
            for each in batch:
                consumers._authenticate_and_load(each)
    loop = asyncio.new_event_loop()
    for other in co_members[::2]:
        loop.run_until_complete(store.add_connection(other, f"steps.{other}"))

    rows = actions.co_member_presence_rows(user_id)
    online = set(co_members[::2]) | {user_id}

    # Who types in the connect's rooms: read by the same script where the code under test does that (since
    # 93712f4), else by its own round trip after it, as a connect of that code did.
    reads_typing_itself = "typing_rooms" in inspect.signature(store.add_connection_and_ask).parameters

    async def ask_repeatedly(times: int) -> None:
        for _ in range(times):
            if reads_typing_itself:
                await store.add_connection_and_ask(user_id, "steps.me", co_members, [room["id"]])
            else:
                await store.add_connection_and_ask(user_id, "steps.me", co_members)
                await store.typing_in_rooms({room["id"]})

    steps: dict[str, Callable[[int], None]] = {
        "token": lambda times: _repeat(times, lambda: user_for_access_token(token)),
        "load": lambda times: _repeat(times, lambda: consumers._authenticate_and_load(token)),
        "load_batched": lambda times: _repeat(max(1, times // len(batch)), load_batch),
        "presence_ask": lambda times: loop.run_until_complete(ask_repeatedly(times)),
        "snapshot": lambda times: _repeat(times, lambda: actions.snapshot_from_rows(user_id, rows, online, [])),
    }
    per_round: dict[str, list[float]] = {name: [] for name in steps}
    try:
        for run in steps.values():
            run(max(10, iterations // 10))  # warm: prepared statements, compiled queries, connections
        for _ in range(rounds):
            for name, run in steps.items():
                started = time.thread_time()
                run(iterations)
                calls = max(1, iterations // len(batch)) * len(batch) if name == "load_batched" else iterations
                per_round[name].append(round(1e6 * (time.thread_time() - started) / calls, 1))
    finally:
        loop.run_until_complete(_forget_connections(user_id, co_members[::2]))
        loop.close()
    return {
        "members": members,
        "iterations": iterations,
        "rounds": rounds,
        "online_co_members": len(co_members[::2]),
        "steps": {
            name: {"us_per_call": statistics.median(values), "rounds": values} for name, values in per_round.items()
        },
    }


async def _forget_connections(user_id: int, others: list[int]) -> None:
    """Leave presence as found: the connections recorded here go, and the loop's Redis connections close."""
    from core.redis import async_client
    from presence import store

    await store.remove_connection(user_id, "steps.me")
    for other in others:
        await store.remove_connection(other, f"steps.{other}")
    client = async_client()
    if client is not None:
        await client.aclose()
    try:  # code since 468eca6 sends the presence script on a pipelined connection of its own
        from core.redis import async_pipeline
    except ImportError:
        return
    pipeline = async_pipeline()
    if pipeline is not None:
        pipeline.close()


def _repeat(times: int, call: Callable[[], object]) -> None:
    for _ in range(times):
        call()


if __name__ == "__main__":
    main()
