"""Apps depend one way, and chat's actions import what they use at module top.

moderation -> chat -> notifications, uploads: chat never imports moderation
(moderator power is announced by a signal moderation receives), and
notifications and uploads never import chat's actions (so chat can import
them at module top instead of dodging a cycle inside functions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def test_chat_never_imports_moderation():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.startswith("moderation"))
        for path in python_files("chat")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


@pytest.mark.parametrize("app", ["notifications", "uploads"])
def test_apps_below_chat_never_import_chat_actions(app):
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.startswith("chat.actions"))
        for path in python_files(app)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_chat_actions_import_nothing_inside_functions():
    """A function-local import is how a cycle hides; chat's actions have none."""
    for path in sorted((ROOT / "chat" / "actions").glob("*.py")):
        assert imported_modules(path) == imported_modules(path, top_level_only=True), path.name
