"""AS4 throughput on loopback, signing + encryption on, and where the CPU time goes.

Two processes play two access points, both on ``gateway.as4``: the peer runs in a child
process with its own event loop (its own core on a 2-core box), we run here.

- send:    we send N messages to the peer's /as4 and verify every receipt;
- receive: the peer sends N messages to our /as4 and verifies our receipts.

Both phases send 10 messages untimed first, and both clocks stop at the last receipt (the
receive phase's stopped at the peer process's exit until 2026-12-04, and had no warm-up). Each
line gives our CPU and the peer's per message: on 2 cores the two share the machine.

Each phase is profiled in *this* process (cProfile) and time is attributed to crypto
(``cryptography``, hashlib), XML (lxml), gzip (zlib), the AS4 Python code, and everything
else (aiohttp, asyncio). Usage: ``python -m bench.as4 [-n 400] [-c 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import pstats
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.as4 import (
    As4Limits,
    As4Receiver,
    As4Sender,
    Identity,
    MemorySeenStore,
    Sbdh,
    TrustStore,
    as4_handler,
    wrap_sbdh,
)

ROOT = Path(__file__).resolve().parent.parent

DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
SHARED = ROOT.parent / "shared"
INVOICE = SHARED / "corpus" / "peppol-bis-examples" / "base-example.xml"
#: Our participant (the SBDH receiver of the messages the peer sends us).
RECEIVER = "0088:5798000000001"


def write_pki(directory: Path) -> None:
    from tests.as4.as4_pki import make_pki

    make_pki().write_pem(directory, ("root", "ca", "ours", "peer"))


def load(directory: Path, who: str) -> tuple[Identity, TrustStore]:
    identity = Identity.from_files("", str(directory / f"{who}.crt"), str(directory / f"{who}.key"))
    return identity, TrustStore.from_files(
        [str(directory / "root.crt")], [str(directory / "ca.crt")]
    )


def sbds(n: int, sender: str, receiver: str, tag: str) -> list[bytes]:
    """``n`` SBDs, each with its own copy of the invoice (another number: a new original)."""
    return [sbd for sbd, _header in headed_sbds(n, sender, receiver, tag)]


def headed_sbds(n: int, sender: str, receiver: str, tag: str) -> list[tuple[bytes, Sbdh]]:
    """:func:`sbds` with the header each was wrapped with (the outbound transport passes it
    to ``As4Sender.send``, so the sender does not parse the SBD for it)."""
    from gateway.inbound import renumber

    invoice = INVOICE.read_bytes()
    headers = [Sbdh(sender, receiver, DOCTYPE, PROCESS, f"{tag}-{i}", "DK") for i in range(n)]
    return [(wrap_sbdh(renumber(invoice, h.instance_id), h), h) for h in headers]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve(
    identity: Identity, trust: TrustStore, port: int, db_dir: str | None = None
) -> web.AppRunner:
    """Our receiver. With ``db_dir``: the gateway's own ``POST /as4`` channel
    (``gateway.channels.as4.As4Channel``) on SQLite in ``db_dir``: the database duplicate
    store, the intake and its group-commit writer, the message-id claim, receipt, document and
    reporting row in one transaction committed before the receipt is sent. Only validation is
    replayed (``bench/replay_server.py``: the invoice's real report, each copy renumbered), so
    the figure is the channel's and the store's; ``bench/validate.py`` measures validation."""
    if not db_dir:
        receiver = As4Receiver(identity, trust, As4Limits(), MemorySeenStore(), _accept_all)
    else:
        receiver = await _channel_receiver(Path(db_dir))
    app = web.Application(client_max_size=receiver.limits.max_message_bytes + 1024 * 1024)
    app.router.add_post("/as4", as4_handler(receiver))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _accept_all(document: bytes, meta: Any) -> None:
    return None


async def _channel_receiver(work: Path) -> As4Receiver:
    from bench.replay_server import ReplayValidator, templates
    from gateway.artefacts import install_artefacts
    from gateway.channels import As4Channel
    from gateway.config import load_settings
    from gateway.inbound import IntakePipeline
    from gateway.store import Database, repo, upgrade

    pki = work.parent
    install_artefacts(str(SHARED / "artefacts"), work / "artefacts")
    as4 = {
        "cert_file": str(pki / "ours.crt"),
        "key_file": str(pki / "ours.key"),
        "trust_anchors": [str(pki / "root.crt")],
        "intermediates": [str(pki / "ca.crt")],
        "revocation": "off",
    }
    settings = load_settings(env={}, overrides={"data_dir": str(work), "as4": as4})
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    async with db.write() as s:
        await repo.add_participant(s, "bench", RECEIVER)
    replay = ReplayValidator(await templates(work / "artefacts", [INVOICE]))
    channel = As4Channel(settings, db, IntakePipeline(db, replay), outbound=None)
    STORES.append(db)
    if os.environ.get("BENCH_SQL_LOG"):  # statements per message: counted, written after the run
        from bench.replay_server import record_statements

        SQL_LOGS.append(record_statements(db.sync_engines()))
    return channel.receiver


#: The databases of the channel runs (their outcome is checked after each run).
STORES: list[Any] = []
#: ``BENCH_SQL_LOG=FILE``: the statement counters of the channel runs (written after each).
SQL_LOGS: list[Any] = []


async def stored_statuses(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from gateway.store import Document

    async with db.read() as s:
        rows = await s.execute(select(Document.status, func.count()).group_by(Document.status))
    return {status: n for status, n in rows}


async def send_all(
    identity: Identity,
    trust: TrustStore,
    url: str,
    peer_cert_path: Path,
    payloads: list[bytes],
    concurrency: int,
    tag: str,
    headers: list[Sbdh] | None = None,
) -> float:
    from cryptography import x509

    peer_cert = x509.load_pem_x509_certificate(peer_cert_path.read_bytes())
    sender = As4Sender(identity, trust)
    queue = list(enumerate(payloads))
    start = time.perf_counter()

    async def worker() -> None:
        while queue:
            i, sbd = queue.pop()
            header = headers[i] if headers else None
            await sender.send(url, peer_cert, sbd, message_id=f"{tag}-{i}@bench", header=header)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    await sender.aclose()
    return elapsed


def peer_main(
    directory: str,
    role: str,
    port: int,
    our_port: int,
    n: int,
    concurrency: int,
    ready: mp.Event,
    done: mp.Event,
) -> None:  # type: ignore[valid-type]
    d = Path(directory)
    identity, trust = load(d, "peer")

    async def run() -> None:
        if role == "serve":
            runner = await serve(identity, trust, port)
            ready.set()  # type: ignore[attr-defined]
            while not done.is_set():  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
            await runner.cleanup()
        else:
            url = f"http://127.0.0.1:{our_port}/as4"
            warm = sbds(WARM_UP, "0088:7300010000001", RECEIVER, f"warm{time.time_ns()}")
            payloads = sbds(n, "0088:7300010000001", RECEIVER, f"in{time.time_ns()}")
            # Warmed up as the send phase is: first statements, connections, both sides' caches.
            await send_all(identity, trust, url, d / "ours.crt", warm, 4, "warm")
            ready.set()  # type: ignore[attr-defined]
            await send_all(identity, trust, url, d / "ours.crt", payloads, concurrency, "in")
            done.set()  # type: ignore[attr-defined]  # the last receipt is in: the clock stops

    asyncio.run(run())


#: Messages each phase sends before its clock starts.
WARM_UP = 10
#: CPU seconds of this process (all its threads) in each phase's timed part.
CPU: dict[str, float] = {}
#: The same for the peer process: on a 2-core box the two share the cores; in the send phase
#: the peer decrypts, verifies and signs a receipt per message, in the receive phase it signs,
#: encrypts and verifies the receipts, and either may bound msgs/s.
PEER_CPU: dict[str, float] = {}
#: ``--parse-header``: the sender reads each SBD's header from the SBD (as before 2026-12-02).
PARSE_HEADER = False


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a running process (Linux /proc), 0.0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Receive phase uses the database-backed SeenStore (``--db``).
USE_DB = False
CATEGORIES = ("crypto", "xml", "gzip", "database", "as4 python", "other")


def shim_lxml() -> None:
    """lxml is Cython: cProfile does not see its calls, so their time would land on the Python
    caller. Wrapping the heavy entry points in Python functions makes it measurable."""
    from lxml import etree

    def wrap(fn):  # type: ignore[no-untyped-def]
        def xml_call(*args, **kwargs):  # type: ignore[no-untyped-def]
            return fn(*args, **kwargs)

        xml_call.__qualname__ = xml_call.__name__ = f"lxml_{fn.__name__}"
        return xml_call

    for name in ("tostring", "fromstring", "SubElement"):
        setattr(etree, name, wrap(getattr(etree, name)))


def attribute(profile: cProfile.Profile) -> dict[str, float]:
    """Own time (tottime) per category."""
    stats = pstats.Stats(profile)
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        label = f"{filename} {name}"
        if "poll" in name or "select" in name:
            continue  # idle: waiting for the peer is not our CPU time
        if "cryptography" in label or "hashlib" in label or "openssl" in label:
            cat = "crypto"
        elif "lxml" in label or name == "xml_call":
            cat = "xml"
        elif "sqlalchemy" in label or "sqlite" in label:
            cat = "database"
        elif "zlib" in label or "gzip" in label:
            cat = "gzip"
        elif "gateway/as4" in filename or "gateway/documents" in filename:
            cat = "as4 python"
        else:
            cat = "other"
        totals[cat] += tottime
    return totals


def phase_send(
    tmp: str,
    identity: Identity,
    trust: TrustStore,
    n: int,
    c: int,
    profile: cProfile.Profile | None,
) -> float:
    """We send ``n`` messages to a peer serving in a child process."""
    ctx = mp.get_context("spawn")
    d = Path(tmp)
    port = free_port()
    ready, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=peer_main, args=(tmp, "serve", port, 0, 0, 0, ready, done))
    child.start()
    try:
        ready.wait(60)
        url = f"http://127.0.0.1:{port}/as4"
        pairs = headed_sbds(n, "0088:5798000000001", "0088:7300010000001", f"out{time.time_ns()}")
        payloads = [sbd for sbd, _ in pairs]
        headers = None if PARSE_HEADER else [header for _, header in pairs]
        asyncio.run(
            send_all(
                identity, trust, url, d / "peer.crt", payloads[:WARM_UP], 4, f"warm{time.time_ns()}"
            )
        )
        if profile:
            profile.enable()
        cpu, peer_cpu = time.process_time(), cpu_seconds(child.pid)
        elapsed = asyncio.run(
            send_all(
                identity, trust, url, d / "peer.crt", payloads, c, f"out{time.time_ns()}", headers
            )
        )
        CPU["send"] = time.process_time() - cpu
        PEER_CPU["send"] = cpu_seconds(child.pid) - peer_cpu
        if profile:
            profile.disable()
    finally:
        done.set()
        child.join(30)
    return elapsed


def _sent(child: Any, done: Any, timeout: float = 600.0) -> None:
    """Until the peer has its last receipt (or died, or ``timeout`` passed): not until its
    interpreter has shut down, which the receive figures counted before 2026-12-04."""
    deadline = time.monotonic() + timeout
    while not done.wait(0.05):
        if not child.is_alive() or time.monotonic() > deadline:
            return


def phase_receive(
    tmp: str,
    identity: Identity,
    trust: TrustStore,
    n: int,
    c: int,
    profile: cProfile.Profile | None,
) -> float:
    """A peer in a child process sends ``n`` messages to us."""
    ctx = mp.get_context("spawn")
    our_port = free_port()

    async def run() -> float:
        db_dir = tempfile.mkdtemp(dir=tmp) if USE_DB else None
        runner = await serve(identity, trust, our_port, db_dir)
        ready, done = ctx.Event(), ctx.Event()
        child = ctx.Process(target=peer_main, args=(tmp, "send", 0, our_port, n, c, ready, done))
        child.start()
        await asyncio.to_thread(ready.wait, 120)
        if profile:
            profile.enable()
        start, cpu = time.perf_counter(), time.process_time()
        peer_cpu = cpu_seconds(child.pid)
        await asyncio.to_thread(_sent, child, done)
        elapsed = time.perf_counter() - start
        CPU["receive"] = time.process_time() - cpu
        PEER_CPU["receive"] = cpu_seconds(child.pid) - peer_cpu
        if profile:
            profile.disable()
        await asyncio.to_thread(child.join, 60)
        if SQL_LOGS:
            SQL_LOGS.pop()(Path(os.environ["BENCH_SQL_LOG"]))
        if STORES:
            statuses = await stored_statuses(STORES[-1])
            if statuses != {"received": n + WARM_UP}:
                raise SystemExit(
                    f"the channel stored {statuses}, not {n} + {WARM_UP} received documents"
                )
            await STORES.pop().dispose()
        await runner.cleanup()
        if child.exitcode != 0:
            raise SystemExit(f"peer sender failed with exit code {child.exitcode}")
        return elapsed

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=400, help="messages per direction")
    parser.add_argument("-c", type=int, default=16, help="concurrent sends")
    parser.add_argument(
        "--db",
        action="store_true",
        help="receive through the gateway's AS4 channel on SQLite (duplicate store, intake, "
        "receipt after commit; validation replayed)",
    )
    parser.add_argument("--only", choices=("send", "receive"), help="run one phase only")
    parser.add_argument(
        "--parse-header",
        action="store_true",
        help="send: the sender parses each SBD for its header (the outbound transport passes "
        "the header it wrapped the SBD with; the bench did not before 2026-12-02)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the profiled (cProfile) second pass"
    )
    args = parser.parse_args()
    global USE_DB, PARSE_HEADER
    USE_DB, PARSE_HEADER = args.db, args.parse_header
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_pki(d)
        identity, trust = load(d, "ours")
        print(
            f"payload: {INVOICE.name} ({INVOICE.stat().st_size} bytes) in an SBDH; gzip, "
            f"RSA-2048/SHA-256 signature, AES-128-GCM + RSA-OAEP; every receipt verified; "
            f"{args.c} concurrent sends; peer = gateway.as4 in a child process; "
            f"receive: {'the AS4 channel on SQLite' if args.db else 'memory store, no intake'}"
        )
        phases = [
            (name, phase)
            for name, phase in (("send", phase_send), ("receive", phase_receive))
            if args.only in (None, name)
        ]
        for name, phase in phases:
            elapsed = phase(tmp, identity, trust, args.n, args.c, None)
            ours = 1000 * CPU[name] / args.n
            line = (
                f"{name:8s} {args.n} msgs in {elapsed:.2f}s = {args.n / elapsed:.1f} msgs/s; "
                f"our CPU {ours:.2f} ms/msg (one core: {1000 / ours:.0f} msgs/s)"
            )
            if name in PEER_CPU:
                peer = 1000 * PEER_CPU[name] / args.n
                line += f"; peer CPU {peer:.2f} ms/msg (one core: {1000 / peer:.0f} msgs/s)"
            print(line)
        if args.no_profile:
            return 0
        shim_lxml()
        for name, phase in phases:
            prof = cProfile.Profile()
            phase(tmp, identity, trust, args.n, args.c, prof)
            shares = attribute(prof)
            total = sum(shares.values()) or 1.0
            parts = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in shares.items())
            print(
                f"{name:8s} profiled CPU in our process {1000 * total / args.n:.2f} ms/msg: {parts}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
