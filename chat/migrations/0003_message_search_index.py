"""Indexes for message search, on PostgreSQL only.

Two GIN indexes whose expressions are exactly what
``chat.queries.search_messages`` filters on, so the planner combines them:
full text (Django's ``SearchVector("body", config="english")``) and
trigrams of ``UPPER(body)`` for substring matches (Django's ``icontains``),
which find "runbook" inside "ops_runbook.md". pg_trgm is a trusted
extension (PostgreSQL 13+): a database owner may create it. SQLite searches
by substring without an index.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS message_body_search_idx ON chat_message "
    "USING gin (to_tsvector('english'::regconfig, COALESCE(body, '')))",
    "CREATE INDEX IF NOT EXISTS message_body_trgm_idx ON chat_message USING gin (UPPER(body::text) gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS message_body_trgm_idx", "DROP INDEX IF EXISTS message_body_search_idx"]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_message_updated_at")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
