"""The web toolkit's face stays honest: route modules use ``gateway.web``, never its insides,
never another package's HTTP module for helpers, and ``gateway.server`` is imported by no one."""

from __future__ import annotations

import ast
import importlib
import pathlib
from collections.abc import Callable

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


#: Packages whose insides other packages still import (each is its own follow-up). The list
#: may only shrink: a test below fails when a package listed here has become clean. Empty since
#: ``gateway.store`` got its face: every package is used only through its ``__init__``.
NOT_YET_FACED: frozenset[str] = frozenset()

Imported = tuple[str, str, list[str]]


def _imports_with_names(root: pathlib.Path = ROOT) -> list[Imported]:
    """(importing module's path relative to ``root``, imported module, names it takes)."""
    out: list[Imported] = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((rel, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out.extend((rel, alias.name, []) for alias in node.names)
    return out


def _own_package(rel: str) -> str:
    """The package a module of ``gateway/`` belongs to (``as4/receiver.py`` -> ``as4``)."""
    return rel.split("/", 1)[0].removesuffix(".py")


def _tested_package(rel: str) -> str | None:
    """The package a test module tests: its top folder's (``inbound/email/`` tests
    ``gateway.inbound``, ``as4_integration/`` tests ``gateway.as4``); files at the top of
    ``tests/`` test no one package."""
    return rel.split("/", 1)[0].split("_", 1)[0] if "/" in rel else None


def _face_leaks(
    imports: list[Imported], own_of: Callable[[str], str | None] = _own_package
) -> dict[str, list[tuple[str, str]]]:
    """Per package: (importer, what) for every import of its insides from another package.

    An inside is ``gateway.<pkg>.<module>`` (any depth), or ``from gateway.<pkg> import m``
    where ``m`` is a module of the package that its ``__all__`` does not export.
    """
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    leaks: dict[str, list[tuple[str, str]]] = {p: [] for p in packages}
    for rel, mod, names in imports:
        own = own_of(rel)
        parts = mod.split(".")
        if parts[0] != "gateway" or len(parts) < 2 or parts[1] not in packages or parts[1] == own:
            continue
        pkg = parts[1]
        if len(parts) > 2:
            leaks[pkg].append((rel, mod))
            continue
        exported = set(getattr(importlib.import_module(mod), "__all__", ()))
        for name in names:
            is_module = (ROOT / pkg / f"{name}.py").is_file() or (ROOT / pkg / name).is_dir()
            if is_module and name not in exported:
                leaks[pkg].append((rel, f"{mod}.{name}"))
    return leaks


def test_packages_are_used_only_through_their_face() -> None:
    """httpx-style: another package's modules are private; import what its ``__init__``
    exports (``gateway.as4``, ``gateway.outbound``, ``gateway.channels``, ... every package
    but :data:`NOT_YET_FACED`)."""
    leaks = _face_leaks(_imports_with_names())
    found = {pkg: hits for pkg, hits in leaks.items() if hits and pkg not in NOT_YET_FACED}
    assert not found, found


def test_tests_use_other_packages_through_their_face() -> None:
    """Tests hold to the same rule: ``tests/as4`` may reach into ``gateway.as4``, but takes
    other packages' names from their faces, so a private module can move without breaking
    another area's tests (a name a test needs that no face exports is a missing export)."""
    tests = ROOT.parent / "tests"
    leaks = _face_leaks(_imports_with_names(tests), own_of=_tested_package)
    found = {pkg: hits for pkg, hits in leaks.items() if hits}
    assert not found, found


def test_not_yet_faced_list_only_shrinks() -> None:
    leaks = _face_leaks(_imports_with_names())
    clean = sorted(p for p in NOT_YET_FACED if not leaks.get(p))
    assert not clean, f"{clean} are used only through their face now: drop them from the list"


def test_face_check_catches_a_leak() -> None:
    """The shapes issue 19 removed are caught; a name from the face is not."""
    imports: list[Imported] = [
        ("channels/as4/channel.py", "gateway.as4.receiver", ["As4Receiver"]),
        ("channels/folder/channel.py", "gateway.outbound", ["queue"]),
        ("channels/folder/channel.py", "gateway.outbound", ["OutboundQueue"]),
        ("outbound/transports/as4.py", "gateway.as4", ["As4Sender"]),
        ("as4/receiver.py", "gateway.as4.sbdh", ["Sbdh"]),  # its own package: fine
    ]
    leaks = _face_leaks(imports)
    assert leaks["as4"] == [("channels/as4/channel.py", "gateway.as4.receiver")]
    assert leaks["outbound"] == [("channels/folder/channel.py", "gateway.outbound.queue")]


def test_a_test_may_reach_only_into_the_package_it_tests() -> None:
    imports: list[Imported] = [
        ("as4_integration/test_mls.py", "gateway.as4.models", ["As4MlsOutbox"]),  # its own
        ("as4_integration/test_mls.py", "gateway.channels.as4", ["AS4"]),
        ("conftest.py", "gateway.observability.logs", ["JsonFormatter"]),
        ("conftest.py", "gateway.observability", ["JsonFormatter"]),  # from the face: fine
    ]
    leaks = _face_leaks(imports, own_of=_tested_package)
    assert leaks["as4"] == []
    assert leaks["channels"] == [("as4_integration/test_mls.py", "gateway.channels.as4")]
    assert leaks["observability"] == [("conftest.py", "gateway.observability.logs")]


BENCH = ROOT.parent / "bench"


def _no_package(rel: str) -> None:
    """A benchmark script belongs to no package: every package's insides are another's."""
    return None


def test_bench_uses_packages_through_their_face() -> None:
    """Benchmarks drive the gateway from outside, so they take every name from a package's
    face, as another package would: a private module can then move without breaking a script
    of ``bench/`` (which no test runs, so nothing else would notice)."""
    imports = _imports_with_names(BENCH)
    assert any(mod.startswith("gateway.") for _, mod, _ in imports), "no bench imports found"
    leaks = _face_leaks(imports, own_of=_no_package)
    found = {pkg: hits for pkg, hits in leaks.items() if hits}
    assert not found, found


def test_bench_check_catches_a_leak() -> None:
    imports: list[Imported] = [
        ("as4.py", "gateway.as4.http", ["make_app"]),
        ("as4.py", "gateway.as4", ["as4_handler"]),  # from the face: fine
        ("outbound.py", "gateway.outbound", ["worker"]),  # a module the face does not export
        ("replay_server.py", "gateway.server", ["create_app"]),
    ]
    leaks = _face_leaks(imports, own_of=_no_package)
    assert leaks["as4"] == [("as4.py", "gateway.as4.http")]
    assert leaks["outbound"] == [("outbound.py", "gateway.outbound.worker")]
    assert leaks["server"] == []
