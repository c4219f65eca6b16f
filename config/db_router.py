"""The database router: reads go to the replica only inside ``core.replica.read_on_replica``.

Everything else, writes, reads inside transactions and every read nobody
asked to move, stays on the primary (``default``), so code that reads what it
has just written keeps working unchanged. Migrations run on the primary only:
the replica is a physical copy of it.
"""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.db import DEFAULT_DB_ALIAS

from core.replica import read_alias


class ReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        # None lets Django pick as it would without a router: the instance's own database, else default.
        return read_alias()

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica holds the same rows as the primary: an object read there may point at one read here.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


def replica_database(primary: dict[str, Any], url: str, connect_timeout: float, query_timeout: float) -> dict[str, Any]:
    """The ``replica`` entry of ``DATABASES``: the primary's settings (pool, options) pointed at ``url``.

    Its waits are bounded on their own: connecting (and waiting for a pooled
    connection) by ``connect_timeout``, a query by ``query_timeout`` (the
    replica's ``statement_timeout``), so a slow replica cannot hold a request
    longer than the primary would. In tests it mirrors the primary's test
    database (the replica replays it; nothing is created or flushed there).
    """
    replica = dj_database_url.parse(url, conn_max_age=primary.get("CONN_MAX_AGE", 0))
    options = {**primary.get("OPTIONS", {}), **replica.get("OPTIONS", {})}
    options["connect_timeout"] = max(1, round(connect_timeout))
    options["options"] = f"-c statement_timeout={round(query_timeout * 1000)}"
    if "pool" in options:
        options["pool"] = {**options["pool"], "timeout": connect_timeout}
    replica["OPTIONS"] = options
    replica["CONN_MAX_AGE"] = primary.get("CONN_MAX_AGE", 0)
    replica["TEST"] = {"MIRROR": DEFAULT_DB_ALIAS}
    return replica
