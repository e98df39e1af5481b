"""The ``gateway`` command line: one entry point, sub-commands contributed by each concern.

Each concern keeps its commands next to its code in a ``cli`` module exposing
``register(subparsers)``; this module only assembles them. Heavy imports (Saxon, SQLAlchemy)
happen inside the command handlers so ``gateway --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway import __version__
from gateway.config import ConfigError

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = [
    "gateway.server.cli",
    "gateway.validation.cli",
    "gateway.artefacts.cli",
    "gateway.store.cli",
    "gateway.admin.cli",
    "gateway.outbound.cli",
    "gateway.responses.cli",
    "gateway.reporting.cli",
    "gateway.rendering.cli",
]

#: Commands whose module is known without importing the others: a one-shot ``gateway validate
#: FILE`` spent 0.5-2 s importing SQLAlchemy, aiohttp & co. for the parsers of other commands.
DIRECT = {"validate": "gateway.validation.cli"}


class UsageError(Exception):
    """Wrong arguments; exits with status 2 like argparse does."""


#: A command body: ``await body(db, args)`` with the server's :class:`~gateway.store.Database`.
DbBody = Callable[[Any, argparse.Namespace], Awaitable[int]]


def with_database(body: DbBody, *, migrate: bool = True) -> Callable[[argparse.Namespace], int]:
    """A handler that runs ``body`` on the database of ``--config`` (the server's). On SQLite
    the schema is brought up to date first; on PostgreSQL a pending migration is an error
    (an operator runs ``gateway db upgrade`` deliberately). ``ValueError`` is a usage error."""

    def handler(args: argparse.Namespace) -> int:
        import asyncio  # here: a one-shot ``gateway validate FILE`` needs no event loop

        return asyncio.run(_on_database(body, args, migrate))

    return handler


async def _on_database(body: DbBody, args: argparse.Namespace, migrate: bool) -> int:
    from gateway.config import load_settings
    from gateway.store import Database, pending_heads, upgrade

    db = Database.from_settings(load_settings(args.config))
    try:
        if migrate:
            if db.is_sqlite:
                await upgrade(db.engine)
            elif await pending_heads(db.engine):
                raise UsageError("the database schema is not current; run `gateway db upgrade`")
        return int(await body(db, args) or 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        await db.dispose()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with only the one ``argv`` names if it is DIRECT."""
    parser = argparse.ArgumentParser(
        prog="gateway", description="Peppol and e-invoice gateway (validate, store, route, send)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML configuration file (default: $GATEWAY_CONFIG)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = _command(sys.argv[1:] if argv is None else argv)
    for name in [DIRECT[command]] if command in DIRECT else COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # concern not built yet
            raise
        module.register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (None if options before it ask for help or are unknown)."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("--config="):
            return None if arg.startswith("-") else arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except (UsageError, ConfigError) as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
