"""The KoSIT daemon (``gateway validate --daemon --kosit-config DIR``) under load.

Usage: python -m bench.kosit_daemon [--config DIR] [--rounds N] [--jobs 1 2] [--clients-per-job K]

For each job count it starts the daemon as a user would (its own process, ``--jobs N`` worker
processes), waits for ``/server/health``, warms every worker with the suite, then runs a
closed loop of ``jobs x K`` HTTP clients POSTing the 86 files of the XRechnung test suite
``--rounds`` times. It prints requests/s, p50/p99 latency, the answers' status codes and the
resident memory of the daemon and its workers (from /proc, while loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (MiB)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf(
                "SC_PAGE_SIZE"
            )
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, IndexError):
            continue
        todo += [int(c) for c in children]
    return total / 2**20


async def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as s:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited with {proc.returncode}")
            try:
                async with s.get(f"{base}/server/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.3)


async def run(config: str, files: list[Path], jobs: int, rounds: int, clients: int) -> dict:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "gateway", "validate", "--daemon", "--kosit-config", config]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.perf_counter()
        await _wait_up(base, proc)
        startup = time.perf_counter() - started
        docs = [(f.name, f.read_bytes()) for f in files]
        latencies: list[float] = []
        codes: dict[int, int] = {}
        rss: list[float] = []

        async def client(session: aiohttp.ClientSession, queue: list, record: bool) -> None:
            while queue:
                name, data = queue.pop()
                t0 = time.perf_counter()
                async with session.post(f"{base}/{name}", data=data) as r:
                    await r.read()
                if record:
                    latencies.append(time.perf_counter() - t0)
                    codes[r.status] = codes.get(r.status, 0) + 1
                    if len(latencies) % 40 == 0:
                        rss.append(_rss_mib(proc.pid))

        async with aiohttp.ClientSession() as session:
            warm = [d for _ in range(jobs) for d in docs]
            await asyncio.gather(*(client(session, warm, False) for _ in range(clients)))
            queue = [d for _ in range(rounds) for d in docs]
            t0 = time.perf_counter()
            await asyncio.gather(*(client(session, queue, True) for _ in range(clients)))
            elapsed = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "codes": codes,
        "rss_mib": statistics.median(rss) if rss else 0.0,
        "startup_s": startup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default=str(ROOT.parent / "shared/artefacts/kosit-xrechnung-config")
    )
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/corpus/xrechnung-testsuite"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients-per-job", type=int, default=2)
    args = parser.parse_args()
    files = sorted(Path(args.corpus).rglob("*.xml"))
    print(
        f"corpus: {len(files)} files, {args.rounds} rounds, {args.clients_per_job} clients per "
        f"job, cpus={os.cpu_count()}"
    )
    for jobs in args.jobs:
        clients = jobs * args.clients_per_job
        r = asyncio.run(run(args.config, files, jobs, args.rounds, clients))
        print(
            f"jobs={jobs}: {r['rps']:.1f} requests/s  p50={r['p50_ms']:.1f} ms  "
            f"p99={r['p99_ms']:.1f} ms  status {r['codes']}  RSS {r['rss_mib']:.0f} MiB "
            f"(daemon + workers)  start-up {r['startup_s']:.1f} s  ({clients} clients)"
        )


if __name__ == "__main__":
    main()
