"""``gateway validate`` builds only its own parser: a one-shot validation does not pay for
importing every other command's dependencies (SQLAlchemy, aiohttp, ...)."""

from __future__ import annotations

import importlib
import subprocess
import sys

from gateway.cli import COMMAND_MODULES, DIRECT, _command, build_parser


def _commands(parser) -> set[str]:  # type: ignore[no-untyped-def]
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def test_each_direct_command_is_registered_by_its_module() -> None:
    full = _commands(build_parser([]))
    for command, module in DIRECT.items():
        assert module in COMMAND_MODULES
        assert command in full
        assert _commands(build_parser([command])) == {command}
        importlib.import_module(module)


def test_the_command_word_is_found_after_global_options() -> None:
    assert _command(["validate", "x.xml"]) == "validate"
    assert _command(["--config", "g.toml", "validate"]) == "validate"
    assert _command(["--config=g.toml", "validate"]) == "validate"
    assert _command(["--help", "validate"]) is None
    assert _command([]) is None


def test_validate_does_not_import_the_other_commands_dependencies() -> None:
    code = (
        "import sys; from gateway.cli import main; main(['validate', '--list-scenarios']); "
        "print(sorted(m for m in ('sqlalchemy', 'aiohttp', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"
    assert "xrechnung-3.0-ubl-invoice" in out
