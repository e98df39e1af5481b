"""Round trips per document of the REST intake (issue 18, target 2): a batch of documents costs
a few statements per batch, not per document.

Through the whole app (``create_app``: every hook the gateway attaches - forwarding, the AFNOR
flow webhooks, Invoice Responses, France), documents arriving together are stored by the
group-commit writer; counted with SQLAlchemy's own statement events, on SQLite and PostgreSQL:

- one write transaction per batch (an after-store hook used to open one per document);
- one ``INSERT INTO documents`` per batch (the document id is the insert sentinel), one tenant
  and one webhook lookup per batch (they used to be one per document, each flushing that
  document's rows on its own);
- and everything is still there: every document, its history row, inbox item and claims.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event, func, select

from gateway.documents import identify, parse_xml
from gateway.inbound.fill import renumber
from gateway.server import create_app
from gateway.store import (
    Database,
    Document,
    DocumentClaim,
    InboxItem,
    StatusChange,
    repo,
    upgrade,
)
from gateway.validation import ValidationReport
from gateway.web import DB
from tests.api_gateway import gateway_settings

COPIES = 24
TEMPLATE = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


class Replay:
    """The template's real report, with each copy's real identification (parsed here)."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report

    async def validate(self, raw: bytes, scenario: str | None = None, **_: Any) -> ValidationReport:
        return dataclasses.replace(self.report, document=identify(parse_xml(raw)).to_dict())


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_a_batch_costs_statements_per_batch_not_per_document(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    validator: Any,
    corpus_dir: Path,
    aiohttp_server: Any,
) -> None:
    template = (corpus_dir / TEMPLATE).read_bytes()
    report = await validator.validate(template)
    assert report.accepted
    async with AsyncExitStack() as stack:
        overrides: dict[str, Any] = {}
        if backend == "postgres":
            fresh = request.getfixturevalue("pg_databases")
            overrides["database_url"] = await stack.enter_async_context(fresh())
        settings = gateway_settings(tmp_path, **overrides)
        db = Database.from_settings(settings)
        await upgrade(db.engine)
        await db.dispose()
        app = create_app(settings, validator=Replay(report))
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        stack.push_async_callback(server.close)  # before the database is dropped
        http = await stack.enter_async_context(aiohttp.ClientSession())
        url = str(server.make_url("/v1/documents"))
        async with app[DB].write() as s:
            _, key = await repo.create_api_key(s, "acme", ("submit", "read"))
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
        bodies = [renumber(template, f"RT-{i}") for i in range(COPIES)]

        statements: Counter[str] = Counter()
        writes = 0  # committed transactions that wrote something
        writing: dict[int, bool] = {}

        def on_statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
            words = sql.split()
            statements[" ".join(words[:3])] += 1
            if words[0] in ("INSERT", "UPDATE", "DELETE"):
                writing[id(conn)] = True

        def on_commit(conn: Any) -> None:
            nonlocal writes
            writes += writing.pop(id(conn), False)

        engine = app[DB].engine.sync_engine
        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(engine, "commit", on_commit)

        async def post(body: bytes) -> tuple[int, dict[str, Any]]:
            async with http.post(url, data=body, headers=headers) as resp:
                return resp.status, await resp.json()

        try:
            answers = await asyncio.gather(*(post(b) for b in bodies))
        finally:
            event.remove(engine, "before_cursor_execute", on_statement)
            event.remove(engine, "commit", on_commit)

        assert [(code, a["status"]) for code, a in answers] == [(201, "received")] * COPIES
        ids = {a["id"] for _, a in answers}
        # Writes happened in batches: far fewer transactions than documents, and each batch
        # inserts its documents in one statement and looks its tenant and webhooks up once.
        # (Before: a write transaction per document for the flow webhooks' after-store hook,
        # and a tenant and webhook query per document, each flushing that document alone.)
        inserts = statements["INSERT INTO documents"]
        assert 1 <= inserts <= writes < COPIES // 2, (writes, statements)
        assert statements["SELECT tenants.name, tenants.webhook_url,"] <= inserts
        assert statements["SELECT afnor_webhooks.id, afnor_webhooks.tenant,"] <= inserts
        # The pull inbox's rows too (before: one INSERT ... RETURNING per document on SQLite).
        assert 1 <= statements["INSERT INTO inbox_items"] <= inserts, statements

        async with app[DB].read() as s:
            stored = set(await s.scalars(select(Document.id).where(Document.tenant == "acme")))
            history = await s.scalar(
                select(func.count())
                .select_from(StatusChange)
                .where(StatusChange.document_id.in_(ids))
            )
            inbox = await s.scalar(
                select(func.count()).select_from(InboxItem).where(InboxItem.document_id.in_(ids))
            )
            claims = await s.scalar(
                select(func.count())
                .select_from(DocumentClaim)
                .where(DocumentClaim.document_id.in_(ids))
            )
        assert stored == ids and history == COPIES and inbox == COPIES
        assert claims == 2 * COPIES  # the bytes and the business key of each original
