"""Layering rules, checked on the source (AST), not by importing it.

- endpoints must not import repositories (they go through services);
- services and repositories must not import the HTTP layer;
- repositories must not import services.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute module names imported by `source`, relative imports resolved against `package`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def violations(folder: str, forbidden: str) -> list[str]:
    """Every `file imports module` where module is `forbidden` or inside it."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        relative = path.relative_to(ROOT)
        package = ".".join(relative.with_suffix("").parts[:-1])
        for name in sorted(imported_modules(path.read_text(encoding="utf-8"), package)):
            if name == forbidden or name.startswith(forbidden + "."):
                found.append(f"{relative} imports {name}")
    return found


def test_endpoints_do_not_import_repositories() -> None:
    assert violations("backend/api/v1/endpoints", "backend.repositories") == []


def test_services_do_not_import_the_http_layer() -> None:
    assert violations("backend/services", "backend.api") == []


def test_repositories_do_not_import_services_or_http() -> None:
    assert violations("backend/repositories", "backend.api") == []
    assert violations("backend/repositories", "backend.services") == []


def test_relative_imports_are_resolved() -> None:
    source = "from ....repositories import project_repository\nfrom . import health\n"
    names = imported_modules(source, "backend.api.v1.endpoints")
    assert "backend.repositories.project_repository" in names
    assert "backend.api.v1.endpoints.health" in names
