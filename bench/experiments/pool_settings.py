"""Settings for measuring a psycopg connection pool (``psycopg-pool`` on the server's PYTHONPATH).

``--env DJANGO_SETTINGS_MODULE=bench.experiments.pool_settings --env PYTHONPATH=<dir with psycopg_pool>``.
Django advises a pool rather than persistent connections under ASGI; without
either (``CONN_MAX_AGE=0``, the default), every ``database_sync_to_async``
call of the consumer opens a new PostgreSQL connection.
"""

from config.settings import *  # noqa: F403
from config.settings import DATABASES

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 10, "timeout": 10}
