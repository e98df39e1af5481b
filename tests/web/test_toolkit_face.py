"""The web toolkit's face stays honest: route modules use ``gateway.web``, never its insides,
never another package's HTTP module for helpers, and ``gateway.server`` is imported by no one."""

from __future__ import annotations

import ast
import pathlib

import gateway
import gateway.web

ROOT = pathlib.Path(gateway.__file__).parent


def _imports() -> list[tuple[str, str]]:
    """(importing module's path relative to gateway/, imported module) for every import."""
    out = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((rel, node.module))
            elif isinstance(node, ast.Import):
                out.extend((rel, alias.name) for alias in node.names)
    return out


def test_toolkit_insides_are_used_only_through_the_face() -> None:
    leaks = [
        (rel, mod)
        for rel, mod in _imports()
        if mod.startswith("gateway.web.") and not rel.startswith("web/")
    ]
    assert not leaks, leaks


def test_server_is_only_the_app_factory() -> None:
    users = [
        (rel, mod)
        for rel, mod in _imports()
        if mod.startswith("gateway.server") and not rel.startswith(("server/", "cli/"))
    ]
    assert not users, users


def test_no_package_borrows_the_document_api_helpers() -> None:
    """Only the face of ``gateway.api`` (its view functions, for the console) is imported
    elsewhere, never its handler modules."""
    borrowed = [
        (rel, mod)
        for rel, mod in _imports()
        if mod.startswith("gateway.api.") and not rel.startswith(("api/", "server/"))
    ]
    assert not borrowed, borrowed


def test_face_exports_exist() -> None:
    missing = [name for name in gateway.web.__all__ if not hasattr(gateway.web, name)]
    assert not missing, missing
