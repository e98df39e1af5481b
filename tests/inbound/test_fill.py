"""The bulk fill (``gateway.inbound.fill``) builds the store the intake builds.

The same renumbered copies of real corpus documents (UBL and CII, valid and rejected) go into
one store through the intake, one by one with their own real identification, and into another
through ``fill``; every table must then hold the same rows (ids, sequence numbers and
timestamps aside, documents matched by number), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.config import load_settings
from gateway.documents import identify, parse_xml
from gateway.inbound import IntakePipeline, Submission
from gateway.inbound.fill import Template, fill, renumber
from gateway.store import Base, Database, Document, DocumentClaim, StatusChange, upgrade
from gateway.validation import ValidationReport

SUITE = "xrechnung-testsuite"
TEMPLATES = (
    "standard/01.01a-INVOICE_ubl.xml",
    "standard/01.01a-INVOICE_uncefact.xml",
    "standard/01.05_minimal_test_ubl.xml",
)
COPIES = 23  # not a multiple of the batch below: a last, partial transaction too
#: Columns that differ between two stores of the same documents by nature.
VOLATILE = {"seq", "id", "document_id", "created_at", "updated_at", "at"}


class Replay:
    """The intake's validator: the template's verdict with the copy's real identification."""

    def __init__(self) -> None:
        self.pending: dict[bytes, ValidationReport] = {}

    async def validate(self, raw: bytes, scenario: str | None = None, **_: Any) -> ValidationReport:
        return self.pending.pop(raw)


@pytest.fixture(scope="module")
def templates_paths(corpus_dir: Path) -> list[Path]:
    paths = [corpus_dir / SUITE / rel for rel in TEMPLATES]
    return [p if p.exists() else next((corpus_dir / SUITE).rglob(p.name)) for p in paths]


async def _templates(validator: Any, paths: list[Path]) -> list[tuple[bytes, ValidationReport]]:
    raws = [p.read_bytes() for p in paths]
    # A rejected one too: an unknown currency (BR-CL-04) makes it ``invalid``, without claims.
    raws.append(
        raws[0].replace(b">EUR</cbc:DocumentCurrencyCode>", b">XXX</cbc:DocumentCurrencyCode>")
    )
    out = [(raw, await validator.validate(raw)) for raw in raws]
    assert [r.accepted for _, r in out] == [True, True, True, False]
    return out


async def _store(tmp_path: Path, url: str, name: str) -> Database:
    folder = tmp_path / name
    db = Database.from_settings(
        load_settings(env={}, overrides={"data_dir": str(folder), "database_url": url})
    )
    await upgrade(db.engine)
    return db


async def _through_intake(db: Database, templates: list[tuple[bytes, ValidationReport]]) -> None:
    replay = Replay()
    intake = IntakePipeline(db, replay)
    for i in range(COPIES):
        raw_t, report_t = templates[i % len(templates)]
        raw = renumber(raw_t, f"FILL-{i}")
        info = identify(parse_xml(raw)).to_dict()
        replay.pending[raw] = dataclasses.replace(report_t, document=info)
        await intake.submit(Submission(raw=raw, channel="api", tenant="acme"))


async def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without volatile columns, documents referred to by number."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with db.read() as s:
        numbers = dict((await s.execute(select(Document.id, Document.number))).all())
        for model, ref in (
            (Document, "id"),
            (StatusChange, "document_id"),
            (DocumentClaim, "document_id"),
        ):
            columns = [c for c in model.__table__.columns if c.name not in VOLATILE]
            rows = await s.execute(select(getattr(model, ref), *columns))
            out[model.__tablename__] = sorted(
                (numbers[row[0]], *(_plain(v) for v in row[1:])) for row in rows
            )
        for table in Base.metadata.sorted_tables:
            count = await s.scalar(select(func.count()).select_from(table))
            out.setdefault(f"count:{table.name}", []).append((count,))
    return out


def _plain(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


async def _same_store(
    tmp_path: Path, url: str, other_url: str, validator: Any, paths: list[Path]
) -> None:
    templates = await _templates(validator, paths)
    by_intake = await _store(tmp_path, url, "intake")
    by_fill = await _store(tmp_path, other_url, "fill")
    try:
        await _through_intake(by_intake, templates)
        assert await fill(by_fill, templates, COPIES, tenant="acme", batch=10) == COPIES
        expected, got = await _rows(by_intake), await _rows(by_fill)
        assert len(expected["documents"]) == COPIES
        async with by_intake.read() as s:
            statuses = set((await s.scalars(select(Document.status))).all())
        assert statuses == {"received", "invalid"}
        assert len(expected["document_claims"]) > COPIES  # sha256 + business key per original
        for table in expected:
            assert got[table] == expected[table], table
        # Raw bytes too (a deferred column, so not in the rows above): byte for byte.
        async with by_intake.read() as a, by_fill.read() as b:
            raws_a = dict((await a.execute(select(Document.number, Document.raw))).all())
            raws_b = dict((await b.execute(select(Document.number, Document.raw))).all())
        assert raws_a == raws_b
        # Copies are new by construction; filling the same numbers again is refused whole.
        with pytest.raises(IntegrityError):
            await fill(by_fill, templates, 5, tenant="acme")
        assert (await _rows(by_fill))["documents"] == expected["documents"]
    finally:
        await by_intake.dispose()
        await by_fill.dispose()


async def test_filled_sqlite_store_is_the_intakes(
    tmp_path: Path, validator: Any, templates_paths: list[Path]
) -> None:
    await _same_store(tmp_path, "", "", validator, templates_paths)


@pytest.mark.postgres
async def test_filled_postgres_store_is_the_intakes(
    tmp_path: Path, validator: Any, templates_paths: list[Path], pg_database: str, pg_databases: Any
) -> None:
    async with pg_databases() as other:
        await _same_store(tmp_path, pg_database, other, validator, templates_paths)


def test_spliced_copy_is_renumber(templates_paths: list[Path]) -> None:
    """A copy's bytes and identification are what renumbering and identifying it give."""
    for path in templates_paths:
        raw = path.read_bytes()
        template = Template.of(raw, ValidationReport(status="accepted"))
        for number in ("1", "FILL-999999", "A-B-C-12345678"):
            copy, info = template.copy(number)
            assert copy == renumber(raw, number)
            assert info == identify(parse_xml(copy)).to_dict()
