"""REST ingest benchmark: a real ``gateway serve`` process, SQLite, validation on.

Posts the KoSIT XRechnung test-suite files (UBL and CII) over HTTP with N concurrent clients.
Every copy gets a unique invoice number, so each is a new original (no duplicate shortcuts).
Prints accepted documents per second, p50/p99 latency and the peak RSS of the server process
tree (server + validation workers).

    python -m bench.ingest [--docs 600] [--concurrency 16] [--jobs 2]
                           [--prefill 0,1000000] [--database-url postgresql+asyncpg://...]
    python -m bench.ingest --fill 1000000 --store DIR_OR_POSTGRESQL_URL [--start N]
    python -m bench.ingest --stores empty,DIR_OR_URL,... [--rounds 2] [--database-url ...]
    ... [--validation replay]   # reports replayed, not computed: the store path alone

``--prefill`` runs once per value on a fresh store first filled with that many documents for
the same tenant (``gateway.inbound.fill``: copies of the suite's files up to
``--fill-max-bytes``, rows built by the intake's record builder and the lifecycle, inserted in
bulk; a test shows the result equals a store filled through the intake), and prints each run's
rate next to the first one's: "flat with the store's size" is the ratio. With
``--database-url`` (PostgreSQL) every run gets a new database on that server.

Filling 1M takes minutes, so a store can be filled once and kept: ``--fill N --store`` fills a
data dir (SQLite) or a PostgreSQL database (created when missing; run several fills with
different ``--start`` in parallel for more cores), and ``--stores`` runs on the listed stores
in turn (``empty`` = a fresh one), ``--rounds`` times, printing each rate next to the first
store's of its round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GATEWAY_SHARED_DIR", ROOT.parent / "shared"))
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def load_templates(folder: Path) -> list[etree._ElementTree]:
    return [etree.parse(str(p)) for p in sorted(folder.rglob("*.xml"))]


def renumber(tree: etree._ElementTree, number: str) -> bytes:
    root = tree.getroot()
    node = root.find("cbc:ID", NS)
    if node is None:
        node = root.find("rsm:ExchangedDocument/ram:ID", NS)
    old, node.text = node.text, number
    try:
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    finally:
        node.text = old


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_kib(pid: int) -> int:
    """Current RSS of ``pid`` and all its descendants, in KiB."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` used so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` (the validation workers of a server)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def machine_cpu_seconds() -> float:
    """CPU seconds every process of the machine used so far (``/proc/stat``'s busy time)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def server_indexes_read(http: aiohttp.ClientSession, base: str) -> float | None:
    """Wait until the server says it has read its store's indexes (``/health`` ``store``);
    seconds waited, None for a server that does not say (older code)."""
    started = time.perf_counter()
    while True:
        async with http.get(base + "/health") as r:
            store = (await r.json(content_type=None)).get("store")
        if store is None:
            return None
        if store.get("indexes") == "read":
            return time.perf_counter() - started
        await asyncio.sleep(0.2)


class CpuBudget:
    """Where the CPU of a run went, per document: server, its workers, this client, the rest
    (PostgreSQL, the OS). Why: on 2 cores everything shares the budget of a target rate -
    300 docs/s is 6.7 ms of CPU a document for all of them together."""

    def __init__(self, server: int) -> None:
        self.server = server
        self.workers = descendants(server)
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        workers = 0.0
        for pid in self.workers:
            with contextlib.suppress(OSError):  # recycled meanwhile: its CPU is lost
                workers += cpu_seconds(pid)
        client = sum(os.times()[:2])
        return cpu_seconds(self.server), workers, client, machine_cpu_seconds()

    def per_doc(self, docs: int) -> dict[str, float]:
        """CPU ms per document since construction: server, workers, client, other, total."""
        end = self._sample()
        server, workers, client, total = (b - a for a, b in zip(self.start, end, strict=True))
        per = 1000 / max(1, docs)
        return {
            "server": server * per,
            "workers": workers * per,
            "client": client * per,
            "other": (total - server - workers - client) * per,
            "total": total * per,
        }


def budget_line(ms: dict[str, float]) -> str:
    return (
        f"{ms['server']:.2f} server + {ms['workers']:.2f} workers + {ms['client']:.2f} "
        f"client + {ms['other']:.2f} other = {ms['total']:.2f} ms/doc"
    )


#: Fill templates: the suite's files up to this size (the larger ones carry attachments; at
#: 10M copies their bytes would not fit the disk). Override with ``--fill-max-bytes``.
FILL_MAX_BYTES = 8_000


async def fill_templates(work: Path, max_bytes: int) -> list[tuple[bytes, object]]:
    """The suite files up to ``max_bytes``, each with its validation report."""
    from gateway.artefacts import install_artefacts
    from gateway.validation import Validator

    artefacts = work / "artefacts"
    if not artefacts.exists():
        install_artefacts(str(SHARED / "artefacts"), artefacts)
    validator = Validator(artefacts, jobs=0)
    paths = sorted((SHARED / "corpus" / "xrechnung-testsuite").rglob("*.xml"))
    raws = [p.read_bytes() for p in paths if p.stat().st_size <= max_bytes]
    templates = [(raw, await validator.validate(raw)) for raw in raws]
    validator.close()
    return templates


_REPLAY: list[Path] = []


async def replay_reports() -> Path:
    """The suite files with their reports, validated once per bench process and pickled for
    ``bench/replay_server.py`` (each run's server would otherwise validate them again)."""
    if not _REPLAY:
        import pickle

        work = Path(tempfile.mkdtemp(prefix="gw-replay-"))
        templates = await fill_templates(work, max_bytes=1 << 40)
        (work / "reports.pickle").write_bytes(pickle.dumps(templates))
        _REPLAY.append(work / "reports.pickle")
    return _REPLAY[0]


async def prefill(
    work: Path, database_url: str, count: int, *, start: int = 0, max_bytes: int = FILL_MAX_BYTES
) -> float:
    """Fill the store in ``work`` (or at ``database_url``) with ``count`` documents numbered
    from ``start`` (``gateway.inbound.fill``: bulk rows from the intake's record builder);
    returns the seconds the fill itself took."""
    from gateway.config import load_settings
    from gateway.inbound import fill_store
    from gateway.store import Database, upgrade

    settings = load_settings(
        env={}, overrides={"data_dir": str(work), "database_url": database_url}
    )
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    started = time.perf_counter()
    if count:
        templates = await fill_templates(work, max_bytes)
        started = time.perf_counter()
        step, shown = max(50_000, count // 20), 0

        def progress(done: int) -> None:
            nonlocal shown
            if done // step > shown or done == count:
                shown = done // step
                rate = done / (time.perf_counter() - started)
                print(f"  prefill {done:,}/{count:,} ({rate:.0f} docs/s)", file=sys.stderr)

        await fill_store(db, templates, count, tenant="bench", start=start, progress=progress)
    await db.dispose()
    return time.perf_counter() - started


async def new_database(url: str) -> str:
    """A new, empty database on the server of ``url`` (PostgreSQL)."""
    import secrets

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"gw_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def open_store(args: argparse.Namespace, spec: str) -> tuple[Path, str, int, bool]:
    """(data dir, database URL, documents stored, data dir temporary) for a ``--stores``
    entry: ``empty`` (a new store: SQLite, or a new database on ``--database-url``), a
    filled SQLite data dir, or a filled PostgreSQL database URL (``--fill``)."""
    from gateway.artefacts import install_artefacts
    from gateway.config import load_settings
    from gateway.store import Database, upgrade

    if spec != "empty" and not spec.startswith("postgresql"):
        work, database_url, temporary = Path(spec), "", False
    else:
        work, temporary = Path(tempfile.mkdtemp(prefix="gw-bench-")), True
        install_artefacts(str(SHARED / "artefacts"), work / "artefacts")
        if spec == "empty":
            database_url = await new_database(args.database_url) if args.database_url else ""
            await prefill(work, database_url, 0)
        else:
            database_url = spec
    from sqlalchemy import text

    settings = load_settings(
        env={}, overrides={"data_dir": str(work), "database_url": database_url}
    )
    db = Database.from_settings(settings)
    started = time.perf_counter()
    await upgrade(db.engine)  # a kept store filled by an older checkout: today's schema
    if time.perf_counter() - started > 1:
        print(f"schema upgraded in {time.perf_counter() - started:.0f} s: {spec}", flush=True)
    async with db.read() as session:
        stored = int(await session.scalar(text("SELECT count(*) FROM documents")) or 0)
    await db.dispose()
    return work, database_url, stored, temporary


#: Reads of the indexes every new document's duplicate check and insert reach at a random
#: place (claims by hash, documents by sha256). Why: on a kept 1M store whose pages are not in
#: the OS page cache, each such lookup is a disk read (16 claim lookups: 15-23 ms cold, 0.3 ms
#: warm; a 300-document run 0.60x the empty store cold, 1.00x warm), which measures the
#: cache, not the gateway; a server that has been running holds them. ``--cold`` skips it.
WARM = {
    "sqlite": [
        "SELECT count(*) FROM document_claims INDEXED BY sqlite_autoindex_document_claims_1"
        " WHERE tenant > ''",
        "SELECT count(*) FROM documents INDEXED BY ix_documents_sha256 WHERE sha256 > ''",
    ],
    "postgresql": [
        "SET enable_seqscan = off",
        "SET enable_bitmapscan = off",
        "SELECT count(*) FROM document_claims WHERE tenant > ''",
        "SELECT count(*) FROM documents WHERE sha256 > ''",
    ],
}


async def warm_indexes(work: Path, database_url: str) -> float:
    """Read :data:`WARM`'s indexes of the store once; returns the seconds it took."""
    from sqlalchemy import text

    from gateway.config import load_settings
    from gateway.store import Database

    settings = load_settings(
        env={}, overrides={"data_dir": str(work), "database_url": database_url}
    )
    db = Database.from_settings(settings)
    started = time.perf_counter()
    async with db.read() as session:
        for statement in WARM[db.engine.dialect.name]:
            await session.execute(text(statement))
    await db.dispose()
    return time.perf_counter() - started


async def run(
    args: argparse.Namespace, stored: int, spec: str | None = None
) -> tuple[float, int, float]:
    """One ingest run: on a fresh store prefilled with ``stored`` documents, or on the store
    ``spec`` names (``--stores``); (accepted docs/s, exit status, p99 seconds)."""
    from gateway.artefacts import install_artefacts

    if spec is not None:
        work, database_url, stored, temporary = await open_store(args, spec)
    else:
        work, temporary = Path(tempfile.mkdtemp(prefix="gw-bench-")), True
        install_artefacts(str(SHARED / "artefacts"), work / "artefacts")
        database_url = await new_database(args.database_url) if args.database_url else ""
        fill_seconds = await prefill(work, database_url, stored)
        if stored:
            print(f"prefilled:      {stored:,} documents in {fill_seconds:.0f} s")
    warmed = None
    if stored and not args.cold:
        warmed = await warm_indexes(work, database_url)
    run_id = secrets.token_hex(3)
    port = free_port()
    env = dict(
        os.environ,
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_DATA_DIR=str(work),
        GATEWAY_HTTP_HOST="127.0.0.1",
        GATEWAY_HTTP_PORT=str(port),
        GATEWAY_SMTP_PORT="0",
        GATEWAY_VALIDATION_JOBS=str(args.jobs),
        GATEWAY_LOG_LEVEL="WARNING",
    )
    gw = [sys.executable, "-m", "gateway"]
    key = subprocess.run(
        [*gw, "keys", "create", "--tenant", "bench", "--scope", "submit"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    serve = [*gw, "serve"]
    if args.validation == "replay":
        serve = [sys.executable, "-m", "bench.replay_server"]
        env["BENCH_REPLAY_REPORTS"] = str(await replay_reports())
    server = subprocess.Popen(serve, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    peak = 0
    pool: dict = {}
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=args.concurrency)
        ) as http:
            deadline = time.time() + 120
            while True:
                try:
                    async with http.get(base + "/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if server.poll() is not None or time.time() > deadline:
                    print("server did not start", file=sys.stderr)
                    return 0.0, 1, 0.0
                await asyncio.sleep(0.2)

            templates = load_templates(SHARED / "corpus" / "xrechnung-testsuite")
            warm = max(8, args.jobs * 4)
            bodies = [
                renumber(templates[i % len(templates)], f"BENCH-{run_id}-{i:06d}")
                for i in range(args.docs + warm)
            ]
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
            latencies: list[float] = []
            statuses: Counter[str] = Counter()
            queue: asyncio.Queue[bytes] = asyncio.Queue()

            async def worker(record: bool) -> None:
                while True:
                    try:
                        body = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    t0 = time.perf_counter()
                    async with http.post(base + "/v1/documents", data=body, headers=headers) as r:
                        payload = await r.json(content_type=None)
                    if record:
                        latencies.append(time.perf_counter() - t0)
                        statuses[f"{r.status} {payload.get('status', payload.get('code'))}"] += 1

            async def sample_rss() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, tree_rss_kib(server.pid))
                    await asyncio.sleep(0.25)

            sampler = asyncio.create_task(sample_rss())
            for body in bodies[:warm]:
                queue.put_nowait(body)
            await asyncio.gather(*(worker(False) for _ in range(args.concurrency)))
            # The server reads the store's indexes once after its start (seconds of the
            # database's CPU at 10M documents): a cost of the start, not of ingest.
            indexes = await server_indexes_read(http, base)
            for body in bodies[warm:]:
                queue.put_nowait(body)
            started, budget = time.perf_counter(), CpuBudget(server.pid)
            await asyncio.gather(*(worker(True) for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - started
            spent = budget.per_doc(len(latencies))
            sampler.cancel()
            async with http.get(base + "/health") as r:
                pool = (await r.json(content_type=None)).get("validation", {})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        if temporary:
            shutil.rmtree(work, ignore_errors=True)

    accepted = statuses.get("201 received", 0)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    where = spec if spec not in (None, "empty") else ("PostgreSQL" if database_url else "SQLite")
    print(f"store:          {stored:,} documents stored before the run ({where})")
    if warmed is not None:
        print(f"indexes read:   claims and sha256 in {warmed:.1f} s before the run (--cold: not)")
    print(f"documents:      {len(latencies)} ({len(templates)} test-suite files, unique numbers)")
    print(f"validation:     {args.validation}")
    print(
        f"concurrency:    {args.concurrency} clients, {args.jobs} validation workers, "
        f"{os.cpu_count()} CPUs"
    )
    if indexes is not None:
        print(f"server indexes: read {indexes:.1f} s after the warm-up documents")
    print(f"outcomes:       {dict(statuses)}")
    print(f"accepted:       {accepted / elapsed:.1f} docs/s ({accepted} in {elapsed:.2f} s)")
    print(f"server CPU:     {spent['server']:.2f} ms/doc (main process)")
    print(f"CPU:            {budget_line(spent)}")
    print(f"latency p50:    {statistics.median(latencies) * 1000:.1f} ms")
    print(f"latency p99:    {p99 * 1000:.1f} ms")
    print(f"peak RSS:       {peak / 1024:.0f} MiB (server + validation workers)")
    workers = ", ".join(
        f"{w.get('rss_mib', 0):.0f} (baseline {w.get('baseline_mib', 0):.0f})"
        for w in pool.get("workers", [])
    )
    recycled = pool.get("restarts", {}).get("memory", 0)
    print(f"workers:        RSS MiB {workers}; recycled for memory {recycled} times")
    return accepted / elapsed, 0 if accepted == len(latencies) else 1, p99


async def run_all(args: argparse.Namespace) -> int:
    runs: list[tuple[int, str | None]] = (
        [(0, spec) for spec in args.stores.split(",")]
        if args.stores
        else [(int(v), None) for v in args.prefill.split(",")]
    )
    results: list[tuple[str, float, float]] = []
    failed = 0
    for _ in range(args.rounds):
        for stored, spec in runs:
            rate, rc, p99 = await run(args, stored, spec)
            results.append((spec or f"{stored:,} prefilled", rate, p99))
            failed |= rc
            print(flush=True)
    if len(results) > 1:
        print("store -> accepted docs/s, p99 (ratio to the first store of its round)")
        for i, (name, rate, p99) in enumerate(results):
            first = results[i - i % len(runs)][1]
            print(f"  {name:60} {rate:7.1f}  p99 {p99 * 1000:6.0f} ms  {rate / first:.2f}x")
    return failed


async def fill_store(args: argparse.Namespace) -> int:
    """``--fill N --store TARGET``: fill a store to keep (a data dir, or a PostgreSQL URL whose
    database is created when missing), for runs with ``--stores``."""
    target = args.store
    if target.startswith("postgresql"):
        await ensure_database(target)
        work = Path(tempfile.mkdtemp(prefix="gw-fill-"))
        database_url = target
    else:
        work, database_url = Path(target), ""
        work.mkdir(parents=True, exist_ok=True)
    seconds = await prefill(
        work, database_url, args.fill, start=args.start, max_bytes=args.fill_max_bytes
    )
    print(f"filled {args.fill:,} documents (from {args.start:,}) in {seconds:.0f} s: {target}")
    return 0


async def ensure_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        found = await conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not found:
            await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2, help="validation worker processes")
    parser.add_argument(
        "--prefill", default="0", help="comma-separated store sizes to run at (default 0)"
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL server (default SQLite)")
    parser.add_argument(
        "--stores",
        default="",
        help="comma-separated stores to run on in turn: empty, a filled data dir, a filled "
        "PostgreSQL URL (instead of --prefill)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="with --stores: runs of each")
    parser.add_argument(
        "--validation",
        choices=("real", "replay"),
        default="real",
        help="replay: each suite file's report computed once and replayed "
        "(bench/replay_server.py), to measure the store path without the workers' noise",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="do not read a filled store's random-key indexes before its run (see WARM)",
    )
    parser.add_argument("--fill", type=int, default=0, help="only fill --store with N documents")
    parser.add_argument("--store", default="", help="with --fill: a data dir or PostgreSQL URL")
    parser.add_argument("--start", type=int, default=0, help="with --fill: first copy number")
    parser.add_argument("--fill-max-bytes", type=int, default=FILL_MAX_BYTES)
    args = parser.parse_args()
    if args.fill:
        return asyncio.run(fill_store(args))
    return asyncio.run(run_all(args))


if __name__ == "__main__":
    sys.exit(main())
