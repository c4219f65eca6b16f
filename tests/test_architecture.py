"""Which project module may import which: the layering, checked on the source with ``ast``.

``core`` is the shared kernel and must stay importable by everyone, so it
imports no app and not the runtime. Domain apps reach the runtime only
through their transports (``consumers.py``), and each other only through
public modules, so an app's views, admin or private helpers can change
without breaking a neighbour. Models and queries never call actions (the
write path depends on the read path, not the other way round). Imports sit
at module top, where a cycle shows at once instead of at the first call.

``KNOWN_VIOLATIONS`` lists the offenders that existed when these rules were
written; they are tolerated, and the list may only shrink: an entry that no
longer occurs fails ``test_every_known_violation_still_exists``, so whoever
fixes one removes it here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".venv", ".git", "migrations", "tests", "bench", "node_modules", "static", "templates", "__pycache__"}
APPS = {"chat", "presence", "uploads", "notifications", "moderation", "accounts", "ops", "integrations"}
PROJECT_PACKAGES = APPS | {"core", "realtime", "config"}
# What one app may import of another: its public modules (``chat.actions`` may be a package).
# permissions (who is a moderator) and changes (marking a message changed) are chat rules other apps' actions
# apply without importing chat's actions (which import theirs).
PUBLIC_APP_MODULES = {
    "actions",
    "models",
    "payloads",
    "queries",
    "events",
    "triggers",
    "realtime",
    "permissions",
    "changes",
    "schema",  # OpenAPI shapes of the app's objects, public like its payloads
}

# (file, imported module) -> why the import is deliberately inside a function.
ALLOWED_LAZY_IMPORTS = {
    ("realtime/consumer.py", "realtime.uvicorn_sansio"): (
        "the uvicorn tweak loads only when a socket is accepted under uvicorn, so daphne and the tests "
        "never import uvicorn's internals"
    ),
}

# (file, imported module): offenders when the rules were written, tolerated until fixed. Only shrinks.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    file: str  # relative to the project, with forward slashes
    line: int
    module: str  # absolute dotted name of what is imported
    in_function: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def source_files() -> Iterator[Path]:
    for path in sorted(PROJECT_DIR.rglob("*.py")):
        relative = path.relative_to(PROJECT_DIR)
        if not SKIPPED_DIRS.intersection(relative.parts[:-1]):
            yield path


def module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    path = PROJECT_DIR.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` reads from, relative levels included."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(node: ast.AST, package: str) -> list[str]:
    """What an import statement loads: ``from chat import actions`` is ``chat.actions``, not ``chat``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    source = resolve(node, package)
    submodules = [f"{source}.{alias.name}" for alias in node.names if is_module(f"{source}.{alias.name}")]
    return submodules or [source]


class ImportCollector(ast.NodeVisitor):
    def __init__(self, file: str, package: str) -> None:
        self.file, self.package = file, package
        self.function_depth = 0
        self.found: list[Import] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for module in imported_modules(node, self.package):
            self.found.append(Import(self.file, node.lineno, module, self.function_depth > 0))

    visit_ImportFrom = visit_Import


def project_imports() -> list[Import]:
    """Every import of a project module, at module top or in a function."""
    found: list[Import] = []
    for path in source_files():
        relative = path.relative_to(PROJECT_DIR)
        name = module_name(relative)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        collector = ImportCollector(relative.as_posix(), package)
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(i for i in collector.found if i.module.split(".")[0] in PROJECT_PACKAGES)
    return found


IMPORTS = project_imports()


def top(dotted: str) -> str:
    return dotted.split(".")[0]


def importer_package(item: Import) -> str:
    return item.file.split("/")[0]


def importer_app(item: Import) -> str | None:
    package = importer_package(item)
    return package if package in APPS else None


def core_imports_an_app_or_the_runtime(item: Import) -> bool:
    return importer_package(item) == "core" and top(item.module) in APPS | {"realtime"}


# An app's transports: its consumer, and the socket-side half of presence that the consumer calls.
TRANSPORT_MODULES = ("/consumers.py", "presence/realtime.py")


def domain_module_imports_the_runtime(item: Import) -> bool:
    return (
        importer_app(item) is not None and top(item.module) == "realtime" and not item.file.endswith(TRANSPORT_MODULES)
    )


def read_side_imports_actions(item: Import) -> bool:
    return item.file.endswith(("/models.py", "/queries.py")) and "actions" in item.module.split(".")


def app_imports_a_non_public_module_of_another(item: Import) -> bool:
    app, target = importer_app(item), top(item.module)
    if app is None or target not in APPS or target == app:
        return False
    parts = item.module.split(".")
    return len(parts) > 1 and parts[1] not in PUBLIC_APP_MODULES


def function_local_project_import(item: Import) -> bool:
    if not item.in_function or "/management/commands/" in item.file:
        return False
    return (item.file, item.module) not in ALLOWED_LAZY_IMPORTS and not is_app_ready_import(item)


def is_app_ready_import(item: Import) -> bool:
    """``AppConfig.ready()`` is where Django wants signal and event modules imported."""
    if not item.file.endswith("/apps.py"):
        return False
    tree = ast.parse((PROJECT_DIR / item.file).read_text())
    return any(
        isinstance(node, ast.FunctionDef) and node.name == "ready" and node.lineno <= item.line <= node.end_lineno
        for node in ast.walk(tree)
    )


CONTRACTS = {
    "core imports no app and not realtime": core_imports_an_app_or_the_runtime,
    "domain apps import realtime only in consumers.py": domain_module_imports_the_runtime,
    "models.py and queries.py import no actions": read_side_imports_actions,
    "an app imports another only through its public modules": app_imports_a_non_public_module_of_another,
    "no function-local import of a project module": function_local_project_import,
}


def offenders(rule) -> list[Import]:
    return [item for item in IMPORTS if rule(item) and (item.file, item.module) not in KNOWN_VIOLATIONS]


def report(items: list[Import]) -> str:
    return "\n" + "\n".join(str(item) for item in items)


def test_the_scan_sees_the_project():
    """A scan that silently found nothing would pass every contract below."""
    assert {"config/urls.py", "chat/actions/send.py", "realtime/consumer.py"} <= {i.file for i in IMPORTS}


# One offender each contract must catch, so a rule emptied by mistake fails here instead of passing vacuously.
EXAMPLE_OFFENDERS = {
    "core imports no app and not realtime": Import("core/errors.py", 1, "realtime.layers", False),
    "domain apps import realtime only in consumers.py": Import("chat/actions/send.py", 1, "realtime.consumer", False),
    "models.py and queries.py import no actions": Import("chat/queries.py", 1, "uploads.actions", False),
    "an app imports another only through its public modules": Import("chat/api.py", 1, "uploads.views", False),
    "no function-local import of a project module": Import("chat/api.py", 1, "chat.models", True),
}


@pytest.mark.parametrize("contract", CONTRACTS)
def test_each_contract_catches_its_example_offender(contract):
    assert CONTRACTS[contract](EXAMPLE_OFFENDERS[contract])


def test_core_imports_no_app_and_not_realtime():
    assert not (found := offenders(core_imports_an_app_or_the_runtime)), report(found)


def test_domain_apps_import_realtime_only_in_their_consumers():
    assert not (found := offenders(domain_module_imports_the_runtime)), report(found)


def test_models_and_queries_import_no_actions():
    assert not (found := offenders(read_side_imports_actions)), report(found)


def test_an_app_imports_another_only_through_its_public_modules():
    assert not (found := offenders(app_imports_a_non_public_module_of_another)), report(found)


def test_no_function_local_import_of_a_project_module():
    assert not (found := offenders(function_local_project_import)), report(found)


def test_every_known_violation_still_exists():
    """Fixed offenders leave the list, so it can only shrink and never hides a new one."""
    occurring = {(item.file, item.module) for item in IMPORTS if any(rule(item) for rule in CONTRACTS.values())}
    assert not (gone := sorted(KNOWN_VIOLATIONS - occurring)), f"no longer violated, remove from the list: {gone}"


def test_every_allowed_lazy_import_still_exists():
    """A stale allowance would let a new lazy import of that module in without a reason."""
    lazy = {(item.file, item.module) for item in IMPORTS if item.in_function}
    assert not (gone := sorted(set(ALLOWED_LAZY_IMPORTS) - lazy)), f"no longer lazy, remove the allowance: {gone}"
