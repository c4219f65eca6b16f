"""docs/protocol.md against the registry of wire events (core.events): the document cannot drift from the code.

Each event is a row of the table under "### Server events" or "### Client
events", its type in the first cell, and names every top-level key of its
``data`` in backticks.
"""

import importlib
import re

from core.events import CLIENT, SERVER, all_specs
from tests.conftest import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "protocol.md"
TABLE_ROW = re.compile(r"^\|\s*`(?P<type>[a-z_]+)`\s*\|(?P<rest>.*)$")


def event_rows(heading: str) -> dict[str, str]:
    """The rows of the event table under ``### heading``: event type -> the rest of its row."""
    lines = DOC.read_text().splitlines()
    start = lines.index(f"### {heading}") + 1
    rows: dict[str, str] = {}
    for line in lines[start:]:
        if line.startswith("#"):
            break
        match = TABLE_ROW.match(line)
        if match:
            assert match["type"] not in rows, f"{match['type']} is listed twice under {heading}"
            rows[match["type"]] = match["rest"]
    return rows


def keys_missing_from_rows(direction: str, heading: str) -> dict[str, list[str]]:
    rows = event_rows(heading)
    return {
        spec.type: [key for key in spec.data_keys if f"`{key}`" not in rows.get(spec.type, "")]
        for spec in all_specs(direction)
        if spec.type not in rows or any(f"`{key}`" not in rows[spec.type] for key in spec.data_keys)
    }


def test_every_server_event_is_documented_with_each_key_of_its_data():
    assert keys_missing_from_rows(SERVER, "Server events") == {}


def test_every_client_request_is_documented_with_each_key_of_its_data():
    assert keys_missing_from_rows(CLIENT, "Client events") == {}


def test_every_server_event_the_doc_lists_is_registered():
    assert set(event_rows("Server events")) - {spec.type for spec in all_specs(SERVER)} == set()


def test_every_client_request_the_doc_lists_is_registered():
    assert set(event_rows("Client events")) - {spec.type for spec in all_specs(CLIENT)} == set()


def test_the_doc_refers_to_no_file_outside_the_repository():
    text = DOC.read_text()
    assert re.findall(r"\.\./|PROTOCOL\.md", text) == []


def test_every_file_the_doc_names_exists():
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_]+)*/[a-z_]+\.(?:py|md))`", DOC.read_text()))
    assert named, "the doc names no files (has the pattern changed?)"
    assert sorted(path for path in named if not (PROJECT_DIR / path).exists()) == []


def test_every_module_the_doc_names_exists():
    """Dotted names of the project's code (``core.errors.ActionError``) resolve: renamed modules show here."""
    apps = "accounts|chat|config|core|moderation|notifications|presence|realtime|uploads"
    # A permission (`chat.moderate_messages`) is spelled like a module; the doc names it as one.
    named = set(re.findall(rf"(?<!permission )`((?:{apps})\.[a-z_][\w.]*)`", DOC.read_text()))
    assert named, "the doc names no modules (has the pattern changed?)"
    assert sorted(name for name in named if not _resolves(name)) == []


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or an attribute reached from the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False
