"""Every module imports on its own (no import cycles that only work in a lucky order)."""

from __future__ import annotations

import inspect
import pkgutil
import subprocess
import sys

import gateway


def _modules() -> list[str]:
    """Every sub-package (its public surface) plus every module that registers routes/commands."""
    return sorted(
        m.name
        for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
        if ".migrations" not in m.name
        and (m.ispkg or m.name.rsplit(".", 1)[1] in {"api", "cli", "app", "routes", "web"})
    )


#: Third-party libraries a forked checker imports once, before any gateway module: they cannot
#: hide a cycle among gateway modules, and importing them in each of ~60 fresh interpreters was
#: most of this test's 36 s (saxonche starts its VM only when a processor is made, not on import).
_PRELOAD = (
    "aiohttp.web",
    "aiosqlite",
    "alembic.command",
    "asyncpg",
    "cryptography.x509",
    "elementpath",
    "jinja2",
    "lxml.etree",
    "prometheus_client",
    "saxonche",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "tenacity",
    "xmlschema",
)
#: Runs in one fresh interpreter: preloads, then forks a child per module (four at a time), so
#: each gateway module is still imported into an interpreter that holds no other gateway module.
_CHECKER = """
import importlib, os, sys, traceback
for lib in PRELOAD:
    try:
        importlib.import_module(lib)
    except ImportError:
        pass
assert not [m for m in sys.modules if m == "gateway" or m.startswith("gateway.")]
failed, running, todo = [], {}, list(sys.argv[1:])
while todo or running:
    while todo and len(running) < 4:
        name = todo.pop(0)
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                last = traceback.format_exc().strip().splitlines()[-1]
                sys.stderr.write(name + ": " + last + "\\n")
                os._exit(1)
            os._exit(0)
        running[pid] = name
    pid, status = os.wait()
    if status != 0:
        failed.append(running[pid])
    del running[pid]
failed.sort()
print(" ".join(failed))
sys.exit(1 if failed else 0)
"""


def _import_each(mods: list[str]) -> subprocess.CompletedProcess[str]:
    code = f"PRELOAD = {_PRELOAD!r}\n{_CHECKER}"
    return subprocess.run(
        [sys.executable, "-c", code, *mods], capture_output=True, text=True, timeout=300
    )


def test_each_module_imports_alone() -> None:
    mods = _modules()
    assert len(mods) > 15
    res = _import_each(mods)
    assert res.returncode == 0, res.stderr[-3000:]


def test_the_import_check_sees_a_module_that_only_imports_in_a_lucky_order(tmp_path) -> None:
    """Self-test: ``a`` imports only after ``b`` (a cycle); it is reported although ``b`` was
    checked, and imported, before it in the same run."""
    pkg = tmp_path / "luckypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import luckypkg.b\n\nVALUE = 1\n")
    (pkg / "b.py").write_text("import luckypkg.a\n\nCOPY = luckypkg.a.VALUE\n")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\nPRELOAD = ()\n{_CHECKER}"
    res = subprocess.run(
        [sys.executable, "-c", code, "luckypkg.b", "luckypkg.a"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert res.stdout.split() == ["luckypkg.a"], (res.stdout, res.stderr)


#: The stages of the data flow "channel -> intake -> (store) -> queue -> transport", by module
#: prefix (the longest prefix wins). An import may point forward along the flow, never back:
#: a transport does not reach into the queue, the queue not into the intake, the intake not
#: into a channel. The store is what every stage writes to: all may import it, it imports no
#: stage. Entry points (``gateway.server``, ``gateway.cli``, ``*.cli``) assemble everything
#: and package faces only re-export, so neither is a stage; a name taken from a face counts
#: as the module that defines it.
STAGES: dict[str, tuple[str, ...]] = {
    "channel": (
        "gateway.channels",
        "gateway.inbound.email",
        "gateway.api",
        "gateway.outbound.api",
        "gateway.outbound.draft_api",
    ),
    "intake": ("gateway.inbound", "gateway.outbound.service", "gateway.outbound.drafts"),
    "queue": ("gateway.outbound",),
    "transport": (
        "gateway.outbound.transports",
        "gateway.outbound.errors",
        "gateway.outbound.messages",
        "gateway.as4",
        "gateway.mail",
    ),
}
ORDER = list(STAGES)
STORE = "gateway.store"


def _stage(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for stage, prefixes in STAGES.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), stage)
    return best[1] if best else None


def _defining_module(module: str, name: str) -> str:
    """Where ``from module import name`` really comes from (faces re-export)."""
    import importlib

    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return f"{module}.{name}"
    if inspect.ismodule(obj):
        return obj.__name__
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj.__module__
    return module  # a constant: attributed to the face it came through


def _module_imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every import in gateway/, faces resolved."""
    import ast
    import pathlib

    root = pathlib.Path(gateway.__file__).parent
    out = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("").as_posix().replace("/", ".")
        if rel.endswith(".__init__") or ".migrations." in rel:
            continue  # a face only re-exports
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.extend((rel, _defining_module(node.module, a.name)) for a in node.names)
            elif isinstance(node, ast.Import):
                out.extend((rel, a.name) for a in node.names)
    return out


def _entry_point(module: str) -> bool:
    return module.startswith(("gateway.server", "gateway.cli")) or module.endswith(".cli")


def _back_arrows(imports: list[tuple[str, str]]) -> list[tuple[str, str]]:
    bad = []
    for importer, imported in imports:
        if _entry_point(importer) or not imported.startswith("gateway."):
            continue
        if importer.startswith(STORE + ".") or importer == STORE:
            if _stage(imported) is not None:
                bad.append((importer, imported))
            continue
        here, there = _stage(importer), _stage(imported)
        if here is not None and there is not None and ORDER.index(there) < ORDER.index(here):
            bad.append((importer, imported))
    return bad


def test_data_flows_one_way() -> None:
    """channel -> intake -> store -> queue -> transport: no import runs back up the flow."""
    imports = _module_imports()
    staged = {m for m, _ in imports if _stage(m)}
    # The moved AS4 adapters are where issue 19 put them.
    assert _stage("gateway.channels.as4.channel") == "channel"
    assert _stage("gateway.outbound.transports.as4") == "transport"
    assert {"gateway.channels.as4.channel", "gateway.outbound.transports.as4"} <= staged
    assert not _back_arrows(imports), _back_arrows(imports)


def test_flow_check_sees_an_arrow_back_up() -> None:
    arrows = [
        ("gateway.outbound.transports.as4", "gateway.outbound.queue"),  # transport -> queue
        ("gateway.as4.receiver", "gateway.channels.as4.channel"),  # transport -> channel
        ("gateway.inbound.intake", "gateway.channels.folder.channel"),  # intake -> channel
        ("gateway.store.repo", "gateway.inbound.intake"),  # store -> a stage
        ("gateway.channels.as4.channel", "gateway.inbound.intake"),  # forward: fine
        ("gateway.outbound.queue", "gateway.store.models"),  # the store: fine
    ]
    assert _back_arrows(arrows) == arrows[:4]
