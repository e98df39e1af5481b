"""``gateway serve`` with validation replayed, for ``bench/ingest.py --validation replay``.

Why: ingest runs with validation are bound by the two validation workers (~70 docs/s on the
shared VM), so the store's share of the cost - what "flat with the store's size" is about -
drowns in their noise. Here the app is the gateway's own (``create_app``: the same intake,
batch writer, lifecycle, forwarding and every hook), only ``validate`` answers from reports
computed once per test-suite file: a bench body is a suite file with another number spliced in
(the bytes ``gateway.inbound.FillTemplate.copy`` gives), so its report is the template's with
that number in its identification, exactly what the real validator would answer. A body that is
no such copy is refused loudly (the run fails), never guessed.

    GATEWAY_... settings in the environment (as ``gateway serve``); run by bench/ingest.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.config import load_settings
from gateway.inbound import FillTemplate
from gateway.observability import configure_logging
from gateway.server import create_app
from gateway.validation import ValidationReport, Validator

SHARED = Path(os.environ.get("GATEWAY_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


class ReplayValidator:
    """Answers a copy of a template with the template's report, renumbered."""

    def __init__(self, templates: list[FillTemplate]) -> None:
        self._by_tail: dict[bytes, list[FillTemplate]] = {}
        for template in templates:
            self._by_tail.setdefault(template.tail[-64:], []).append(template)

    async def validate(
        self, raw: bytes, scenario: str | None = None, *, tenant: str | None = None, key: str = ""
    ) -> ValidationReport:
        for t in self._by_tail.get(raw[-64:], ()):
            if raw.startswith(t.head) and raw.endswith(t.tail):
                number = raw[len(t.head) : len(raw) - len(t.tail)].decode("ascii")
                info = dataclasses.replace(t.info, number=number).to_dict()
                return dataclasses.replace(t.report, document=info)
        raise ValueError("replay: the body is not a renumbered test-suite file")

    def health(self) -> dict[str, Any]:
        return {"mode": "replay"}

    async def aclose(self) -> None:
        return None


async def templates(artefacts: Path, paths: list[Path] | None = None) -> list[FillTemplate]:
    """A template per file (default: the XRechnung test suite), validated once for real."""
    validator = Validator(artefacts, jobs=0)
    out = []
    suite = sorted((SHARED / "corpus" / "xrechnung-testsuite").rglob("*.xml"))
    for path in paths or suite:
        raw = path.read_bytes()
        out.append(FillTemplate.of(raw, await validator.validate(raw)))
    validator.close()
    return out


def count_statements(app: web.Application, out: Path) -> None:
    """Count the SQL statements the server runs, by their first words; written to ``out`` at
    shutdown (``BENCH_SQL_LOG=FILE``: how many round trips a document costs)."""
    from gateway.web import DB

    write = record_statements(app[DB].sync_engines())

    async def on_shutdown(_app: web.Application) -> None:
        write(out)

    app.on_shutdown.append(on_shutdown)


def record_statements(engines: Any) -> Any:
    """Listen to ``engines``; returns ``write(path)`` for the counts and times so far."""
    from collections import Counter

    from sqlalchemy import event

    seen: Counter[str] = Counter()
    took: Counter[str] = Counter()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def on_done(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        what = " ".join(statement.split())[:90]
        seen[what] += 1
        took[what] += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())

    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "after_cursor_execute", on_done)

    def write(out: Path) -> None:
        out.write_text(
            "".join(f"{n:7d} {1000 * took[s]:9.1f} ms  {s}\n" for s, n in seen.most_common())
        )

    return write


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log.level, settings.log.format)
    reports = os.environ.get("BENCH_REPLAY_REPORTS")
    if reports:  # validated once by bench/ingest.py for all its runs: [(raw, report), ...]
        pool = [
            FillTemplate.of(raw, report) for raw, report in pickle.loads(Path(reports).read_bytes())
        ]
    else:
        pool = asyncio.run(templates(Path(settings.data_dir) / "artefacts"))
    app = create_app(settings, validator=ReplayValidator(pool))
    if os.environ.get("BENCH_SQL_LOG"):
        count_statements(app, Path(os.environ["BENCH_SQL_LOG"]))
    web.run_app(app, host=settings.http.host, port=settings.http.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
