"""The package face of ``gateway.validation`` is honest: other packages import only it, the
core imports the speed-ups and the pool only through their faces, and one module imports
saxonche."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import gateway
import gateway.validation as validation

GATEWAY = Path(gateway.__file__).parent
PACKAGE = GATEWAY / "validation"
#: Sub-packages with a face of their own.
FACES = ("gateway.validation.speedups", "gateway.validation.pool", "gateway.validation.kosit")


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(GATEWAY.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def test_face_lists_real_public_names() -> None:
    assert sorted(validation.__all__) == sorted(set(validation.__all__))
    for name in validation.__all__:
        assert not name.startswith("_")
        assert getattr(validation, name) is not None, name
    for face in FACES:
        module = importlib.import_module(face)
        for name in module.__all__:
            assert hasattr(module, name), f"{face}.{name}"


def test_other_packages_import_only_the_face() -> None:
    leaks = []
    for path in GATEWAY.rglob("*.py"):
        if path.is_relative_to(PACKAGE):
            continue
        for module in _imports(path):
            if module.startswith("gateway.validation."):
                leaks.append(f"{_module_name(path)} imports {module}")
    assert not leaks, leaks


def test_core_uses_sub_packages_through_their_faces() -> None:
    leaks = []
    for path in PACKAGE.rglob("*.py"):
        own = _module_name(path)
        for module in _imports(path):
            for face in FACES:
                inside = own == face or own.startswith(face + ".")
                if module.startswith(face + ".") and not inside:
                    leaks.append(f"{own} imports {module}")
    assert not leaks, leaks


def test_exactly_one_module_imports_saxonche() -> None:
    importers = {
        _module_name(path)
        for path in GATEWAY.rglob("*.py")
        if any(m.split(".")[0] == "saxonche" for m in _imports(path))
    }
    assert importers == {"gateway.validation.saxon"}


def test_speedups_do_not_reach_back_into_the_core() -> None:
    """The speed-ups are leaves: the core depends on them, never the other way round."""
    for path in (PACKAGE / "speedups").rglob("*.py"):
        for module in _imports(path):
            if module.startswith("gateway.validation"):
                assert module.startswith("gateway.validation.speedups"), (path.name, module)
