"""CPU an idle ``gateway serve`` uses: nothing submitted, nothing due, for ``--seconds``.

    python -m bench.idle [--seconds 60] [--rounds 1] [--src DIR ...]

Starts ``gateway serve`` (SQLite in a temp dir, artefacts from ``../shared/artefacts``, one
validation job, no SMTP), waits for ``/health``, lets it settle, then reads the process's
user+system CPU time from ``/proc/PID/stat`` before and after the window and prints it as a
percentage of one core. With several ``--src`` checkouts (``--src . --src /tmp/base``) the
rounds interleave them (A B A B ...), so a loaded machine weighs on both alike; each runs with
this interpreter and that checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTLE = 5.0  # seconds after /health answers: start-up work (migrations, first sweeps) ends


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its reaped children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _install(data: Path) -> None:
    from gateway.artefacts import install_artefacts

    install_artefacts(str(ROOT.parent / "shared" / "artefacts"), data / "artefacts")


def measure(src: Path, data: Path, seconds: float) -> float:
    """Percent of one core ``gateway serve`` from ``src`` used while idle for ``seconds``."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            PYTHONPATH=str(src),
            GATEWAY_DATA_DIR=str(data),
            GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/gw.db",
            GATEWAY_HTTP_HOST="127.0.0.1",
            GATEWAY_HTTP_PORT=str(port),
            GATEWAY_SMTP_PORT="0",
            GATEWAY_VALIDATION_JOBS="1",
            GATEWAY_LOG_LEVEL="WARNING",
        )
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, cwd=tmp)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"gateway serve from {src} did not start") from None
                    time.sleep(0.2)
            time.sleep(SETTLE)
            before, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            used, wall = _cpu_seconds(proc.pid) - before, time.monotonic() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 100.0 * used / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--src", action="append", type=Path, help="checkout to run (default: this)")
    args = ap.parse_args()
    sources = [s.resolve() for s in (args.src or [ROOT])]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        _install(data)
        results: dict[Path, list[float]] = {s: [] for s in sources}
        for _ in range(args.rounds):
            for src in sources:
                results[src].append(measure(src, data, args.seconds))
                print(f"{src}: {results[src][-1]:.2f} % of one core", flush=True)
    for src, values in results.items():
        print(f"idle CPU {src}: median {statistics.median(values):.2f} % ({len(values)} runs)")
    if len(sources) == 2:
        a, b = (statistics.median(results[s]) for s in sources)
        print(f"ratio {sources[0].name} / {sources[1].name}: {a / b:.2f}" if b else "")


if __name__ == "__main__":
    main()
