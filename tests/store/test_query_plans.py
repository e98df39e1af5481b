"""Every query on the intake, queue, response-matching and sweep paths is an index lookup.

A store grows to millions of documents; a statement that scans ``documents`` (or the claims,
history, attachment, delivery or queue tables) makes every request slower as it grows (the
duplicate check scanned ``document_claims`` on every batch: ingest fell to 0.13x at 1M
documents). This test fills a store through the real intake, records every statement the paths
run through the real app (SQLAlchemy's ``before_cursor_execute``), and asks the database for each
one's plan: SQLite's ``EXPLAIN QUERY PLAN`` must not ``SCAN`` a large table, and PostgreSQL's
``EXPLAIN`` with ``enable_seqscan = off`` (so a sequential scan is chosen only when no index can
answer) must not show a ``Seq Scan`` on one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import event, text

from gateway.config import load_settings
from gateway.inbound import fill_store, renumber
from gateway.server import create_app
from gateway.store import Database, repo
from gateway.web import DB, LIFECYCLE
from tests.live_gateway import BUYER, invoice_response
from tests.loopback import serving, start

#: Tables that grow with traffic. Small configuration tables (tenants, participants, keys,
#: settings) may be scanned.
SMALL = {"tenants", "participants", "api_keys", "alembic_version", "tenant_settings"}
INVOICE = "peppol-bis-examples/base-example.xml"
TEMPLATES = [
    INVOICE,
    "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml",
    "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_uncefact.xml",
]
FILL = 400

#: Statements known to read a share of ``documents``, each with the work that removes it. The
#: list may only shrink: an entry whose statement no longer runs (or no longer scans) fails too.
#: Keys are regular expressions over the statement (placeholders differ between databases).
BOTH = ("sqlite", "postgresql")
KNOWN: dict[str, tuple[tuple[str, ...], str]] = {}
#: Statements that read a page in an order and must get that order from an index, not sort
#: every row they match (the Flow API's search: a tenant's documents by last update).
ORDERED = (r"ORDER BY documents\.updated_at, documents\.seq",)


@contextmanager
def recorded(db: Database) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if not many and re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", statement, re.I):
            statements.append((statement, params))

    engines = db.sync_engines()  # point reads (gateway.store.lookups) run on one of their own
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


async def scans(db: Database, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement that reads a large table without an index, with its plan line."""
    found: list[str] = []
    seen: set[str] = set()
    async with db.engine.connect() as conn:
        # SQLite plans without statistics as if every table were large (ANALYZE on a test
        # store would make it prefer scanning the tiny queue); PostgreSQL is told the same.
        if not db.is_sqlite:
            await conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in statements:
            if statement in seen:
                continue
            seen.add(statement)
            plan = await _plan(conn, db.is_sqlite, statement, params)
            for table, line in _full_reads(plan, db.is_sqlite):
                if table not in SMALL:
                    found.append(f"{line.strip()}  <-  {' '.join(statement.split())}")
    return found


async def sorts(db: Database, statements: list[tuple[str, Any]]) -> list[str]:
    """Each :data:`ORDERED` statement whose plan sorts its rows (so reads all it matches)."""
    found: list[str] = []
    async with db.engine.connect() as conn:
        if not db.is_sqlite:  # a sort only where no index gives the order
            await conn.exec_driver_sql("SET enable_seqscan = off")
            await conn.exec_driver_sql("SET enable_sort = off")
        ordered = [(st, p) for st, p in statements if any(re.search(o, st) for o in ORDERED)]
        assert ordered, "no ordered statement ran: the paths changed"
        for statement, params in ordered:
            plan = await _plan(conn, db.is_sqlite, statement, params)
            sort = "TEMP B-TREE FOR ORDER BY" if db.is_sqlite else r"(^|->)\s*(Incremental )?Sort\b"
            found += [
                f"{line.strip()}  <-  {' '.join(statement.split())}"
                for line in plan
                if re.search(sort, line)
            ]
    return found


async def _plan(conn: Any, sqlite: bool, statement: str, params: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    result = await conn.exec_driver_sql(prefix + statement, params)
    return [str(row[-1] if sqlite else row[0]) for row in result]


def _full_reads(plan: list[str], sqlite: bool) -> Iterator[tuple[str, str]]:
    """(table, plan line) for each step that reads a table whole, or by a column so coarse
    (direction, kind, ...) that the "lookup" still visits a fixed share of the table."""
    if not sqlite:
        yield from _pg_full_reads(plan)
        return
    for line in plan:
        scan = re.match(r"\s*SCAN (\w+)", line)
        if scan and scan.group(1) != "CONSTANT":
            yield scan.group(1), line
        search = re.match(r"\s*SEARCH (\w+) USING .*?\((.*)\)", line)
        if search and _coarse(re.findall(r"(\w+)\s*[=<>]", search.group(2))):
            yield search.group(1), line


def _pg_full_reads(plan: list[str]) -> Iterator[tuple[str, str]]:
    """PostgreSQL plan nodes ("->" lines) with their detail lines; a node reads a table whole
    when it is a Seq Scan, an index scan without an Index Cond (the whole index, in order), or
    an index condition on coarse columns only. Bitmap index scans name their table on the
    Bitmap Heap Scan above them."""
    nodes: list[list[str]] = []
    for line in plan:
        if not nodes or "->" in line:
            nodes.append([line])
        else:
            nodes[-1].append(line)
    heap = None
    for node in nodes:
        head = node[0]
        if m := re.search(r"Bitmap Heap Scan on (\w+)", head):
            heap = m.group(1)
        if m := re.search(r"Seq Scan on (\w+)", head):
            yield m.group(1), head
            continue
        m = re.search(r"Index (?:Only )?Scan(?: Backward)? using \w+ on (\w+)", head)
        bitmap = re.search(r"Bitmap Index Scan on \w+", head)
        table = m.group(1) if m else (heap if bitmap else None)
        if table is None:
            continue
        cond = next((c for d in node[1:] if (c := re.search(r"Index Cond: (.*)", d))), None)
        if cond is None or _coarse(re.findall(r"\((\w+)\)::|\((\w+) [=<>]", cond.group(1))):
            yield table, f"{head.strip()} / {cond.group(0) if cond else 'no Index Cond'}"


#: Columns with a handful of values: an index search on them alone reads a share of the table.
#: (Queue states are not: the states looked up - pending, queued, unmatched - are the rare ones.)
COARSE = {"direction", "kind", "channel", "syntax", "doc_type", "validation_status"}


def _coarse(columns: list[Any]) -> bool:
    names = {c if isinstance(c, str) else next(x for x in c if x) for c in columns}
    names.discard("")
    return bool(names) and names <= COARSE


class _Ap:
    """The receiving access point of every outbound document: a loopback HTTP endpoint."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.Response(status=202, text="ok")


@pytest.fixture
async def ap_url() -> AsyncIterator[str]:
    ap = _Ap()
    app = web.Application()
    app.router.add_post("/{tail:.*}", ap.handle)
    async with serving(app) as url:
        yield url


def _settings(tmp_path: Path, ap_url: str, database_url: str) -> Any:
    return load_settings(
        env={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "outbound": {"poll_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.1},
            "routes": [{"participant": "*", "url": ap_url + "/ap"}],
            "responses": {"rematch_interval": 0},
        },
    )


async def _walk_paths(
    http: aiohttp.ClientSession, url: str, key: str, corpus_dir: Path, app: Any
) -> None:
    """Intake (new, duplicate, invalid), reads, workflow, outbound queue, responses, sweeps."""
    headers = {"Authorization": f"Bearer {key}"}
    xml = {**headers, "Content-Type": "application/xml"}
    base = (corpus_dir / INVOICE).read_bytes()

    async def call(method: str, path: str, **kw: Any) -> Any:
        async with http.request(method, url + path, headers=kw.pop("h", headers), **kw) as r:
            return r.status, await r.json(content_type=None)

    new = renumber(base, "PLAN-NEW-1")
    status, doc = await call("POST", "/v1/documents", data=new, h=xml)
    assert status == 201, doc
    assert (await call("POST", "/v1/documents", data=new, h=xml))[1]["status"] == "duplicate"
    await call("GET", "/v1/documents?limit=20")
    await call("GET", "/v1/documents?status=received&limit=5")
    await call("GET", f"/v1/documents/{doc['id']}")
    await call("POST", f"/v1/documents/{doc['id']}/status", json={"status": "under_review"})
    await call("GET", "/v1/inbox")
    status, sent = await call("POST", "/v1/outbound", data=renumber(base, "PLAN-OUT-1"), h=xml)
    assert status == 202, sent
    for _ in range(200):
        if (await call("GET", f"/v1/outbound/{sent['id']}"))[1]["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    # A response for an invoice not sent (yet): unmatched, so the rematch probes for it.
    async with app[DB].write() as s:
        await repo.add_participant(s, "acme", BUYER)
    imr = invoice_response("AP", "PLAN-IMR-1", "PLAN-MISSING")
    status, got = await call("POST", "/v1/documents", data=imr, h=xml)
    assert status == 201, got
    status, got = await call("GET", f"/v1/documents/{got['id']}")
    assert got["invoice_response"]["state"] == "unmatched", got["invoice_response"]
    await call("POST", "/v1/admin/responses/rematch")
    await call("GET", "/v1/admin/responses?state=unmatched")
    from gateway.lifecycle import run_overdue_timer

    # Twice: the first round reads from the start, the second from its cursor.
    await run_overdue_timer(app[DB], app[LIFECYCLE], dt.date(2030, 1, 1), batch=50)
    await run_overdue_timer(app[DB], app[LIFECYCLE], dt.date(2030, 1, 2), batch=50)
    await _walk_flows(call, doc["id"])
    await _walk_console(url, key, app, doc["id"])


async def _walk_flows(call: Any, doc_id: str) -> None:
    """The AFNOR Flow API's search (by update time, from a cursor, by direction) and get."""
    flows = "/afnor/flow-service/v1/flows"
    since = {"updatedAfter": "2000-01-01T00:00:00Z"}
    status, page = await call("POST", f"{flows}/search", json={"where": since, "limit": 2})
    assert status == 200 and page["nextCursor"], page
    body = {"where": since, "limit": 2, "cursor": page["nextCursor"]}
    assert (await call("POST", f"{flows}/search", json=body))[0] == 200
    for direction in ("In", "Out"):
        where = {"flowDirection": [direction]}
        assert (await call("POST", f"{flows}/search", json={"where": where}))[0] == 200
    assert (await call("GET", f"{flows}/{doc_id}?docType=Metadata"))[0] == 200


async def _walk_console(url: str, key: str, app: Any, doc_id: str) -> None:
    """The console's pages: dashboard aggregates (a tenant's, and an operator's over every
    tenant), the document list and page, for a tenant admin and an operator."""
    async with app[DB].write() as s:
        _, operator = await repo.create_api_key(s, "provider", [], operator=True)
    for who in (key, operator):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(url + "/console/sign-in") as r:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)  # type: ignore[union-attr]
            form = {"csrf": csrf, "key": who, "next": "/console/"}
            async with browser.post(url + "/console/sign-in", data=form) as r:
                assert r.status == 200, await r.text()  # followed to the dashboard
            for path in (
                "/console/",
                "/console/documents?status=received",
                f"/console/documents/{doc_id}",
            ):
                async with browser.get(url + path) as r:
                    assert r.status == 200, (path, await r.text())


async def _check(tmp_path: Path, ap_url: str, database_url: str, validator: Any, corpus: Path):
    app = create_app(_settings(tmp_path, ap_url, database_url), validator=validator)
    runner, url = await start(app)
    db = app[DB]
    try:
        templates = []
        for rel in TEMPLATES:
            raw = (corpus / rel).read_bytes()
            templates.append((raw, await validator.validate(raw)))
        assert await fill_store(db, templates, FILL, tenant="acme") == FILL
        async with db.write() as s:
            _, key = await repo.create_api_key(s, "acme", ("submit", "read", "status", "admin"))
        async with aiohttp.ClientSession() as http:
            with recorded(db) as statements:
                await _walk_paths(http, url, key, corpus, app)
        assert len(statements) > 20, "the paths ran no statements: the recorder is broken"
        tables = {t for s, _ in statements for t in re.findall(r"FROM (\w+)", s)}
        assert {"documents", "document_claims"} <= tables
        bad = await scans(db, statements)
        expected = {k for k, (dbs, _) in KNOWN.items() if db.engine.dialect.name in dbs}
        known = {k for k in expected if any(re.search(k, line) for line in bad)}
        assert known == expected, f"no longer scanning, remove from KNOWN: {expected - known}"
        bad = [line for line in bad if not any(re.search(k, line) for k in expected)]
        assert bad == [], "\n".join(b[:400] for b in bad)
        sorting = await sorts(db, statements)
        assert sorting == [], "\n".join(b[:400] for b in sorting)
    finally:
        await runner.cleanup()


async def test_sqlite_paths_use_indexes(
    tmp_path: Path, ap_url: str, validator: Any, corpus_dir: Path
) -> None:
    await _check(tmp_path, ap_url, "", validator, corpus_dir)


@pytest.mark.postgres
async def test_postgres_paths_use_indexes(
    tmp_path: Path, ap_url: str, pg_database: str, validator: Any, corpus_dir: Path
) -> None:
    from gateway.store.migrate import upgrade

    db = Database.from_settings(_settings(tmp_path, ap_url, pg_database))
    await upgrade(db.engine)
    await db.dispose()
    await _check(tmp_path, ap_url, pg_database, validator, corpus_dir)


async def test_recorder_sees_a_scan(tmp_path: Path, ap_url: str, validator: Any) -> None:
    """The check can fail: a filter on an unindexed column is reported."""
    app = create_app(_settings(tmp_path, ap_url, ""), validator=validator)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    db = app[DB]
    try:
        async with db.write() as s:
            await s.execute(text("SELECT 1"))
        with recorded(db) as statements:
            async with db.read() as s:
                await s.execute(text("SELECT id FROM documents WHERE currency = 'EUR'"))
        bad = await scans(db, statements)
        assert len(bad) == 1 and bad[0].startswith("SCAN documents"), bad
        with recorded(db) as statements:
            async with db.read() as s:
                await s.execute(text("SELECT id FROM documents WHERE direction = 'outbound'"))
        coarse = await scans(db, statements)  # an index on (direction, number), used by direction
        assert len(coarse) == 1 and "(direction=?)" in coarse[0], coarse
    finally:
        await runner.cleanup()
