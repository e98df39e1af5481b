"""REST ingest benchmark: a real ``gateway serve`` process, SQLite, validation on.

Posts the KoSIT XRechnung test-suite files (UBL and CII) over HTTP with N concurrent clients.
Every copy gets a unique invoice number, so each is a new original (no duplicate shortcuts).
Prints accepted documents per second, p50/p99 latency and the peak RSS of the server process
tree (server + validation workers).

    python bench/ingest.py [--docs 600] [--concurrency 16] [--jobs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


async def run(args: argparse.Namespace) -> int:
    from gateway.artefacts import install_artefacts

    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    install_artefacts(str(SHARED / "artefacts"), work / "artefacts")
    port = free_port()
    env = dict(
        os.environ,
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
    server = subprocess.Popen([*gw, "serve"], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    peak = 0
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
                    return 1
                await asyncio.sleep(0.2)

            templates = load_templates(SHARED / "corpus" / "xrechnung-testsuite")
            warm = max(8, args.jobs * 4)
            bodies = [
                renumber(templates[i % len(templates)], f"BENCH-{i:06d}")
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
            for body in bodies[warm:]:
                queue.put_nowait(body)
            started = time.perf_counter()
            await asyncio.gather(*(worker(True) for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - started
            sampler.cancel()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    accepted = statuses.get("201 received", 0)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"documents:      {len(latencies)} ({len(templates)} test-suite files, unique numbers)")
    print(
        f"concurrency:    {args.concurrency} clients, {args.jobs} validation workers, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"outcomes:       {dict(statuses)}")
    print(f"accepted:       {accepted / elapsed:.1f} docs/s ({accepted} in {elapsed:.2f} s)")
    print(f"latency p50:    {statistics.median(latencies) * 1000:.1f} ms")
    print(f"latency p99:    {p99 * 1000:.1f} ms")
    print(f"peak RSS:       {peak / 1024:.0f} MiB (server + validation workers)")
    return 0 if accepted == len(latencies) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2, help="validation worker processes")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
