"""Bounded validation (issue 14 item 1, issue 18 item 6): hostile and large documents.

Usage: python -m bench.bounded [--data-dir DIR] [--before CHECKOUT] [--rounds N] [--limit S]
                               [--skip-sizes] [--skip-latency] [--memory]

1. **Sizes.** Validation time of ``base-example.xml`` with N = 1,000 / 5,000 / 50,000 empty
   notes (the issue's payload), 1,000 / 10,000-line invoices (Peppol BIS with line periods) and
   a 10,000-line XRechnung invoice, each warm (second run in the process). With ``--before``
   (a checkout of the code before these changes, e.g. ``git worktree add /tmp/before main``)
   every measurement also runs there, interleaved A/B in alternating child processes (the
   machine is shared: absolute figures drift, the ratio is what counts); a run that exceeds
   ``--limit`` seconds is reported as ``>limit``.
2. **Latency under attack.** Two workers; two hostile documents (50,000 empty notes, one as
   an SMTP sender, one as an API tenant) are submitted, then a normal invoice every 0.2 s from
   a third sender; prints its p50/max latency while the hostile ones run, with the light lane
   on (the default) and off (``heavy_tags=0``: what the pool did before), in the same run.
3. **Memory** (``--memory``, issue 18 item 7). Two workers' resident size and baseline under
   the suite twice, after two 11 MB and two 15 MB invoices and after the suite again, with the
   old fixed bound (450 MiB) and with the defaults (growth over each worker's own baseline,
   absolute cap), lazily compiled and with every scenario compiled; recycles and documents
   validated (each exactly once) are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.validation import payloads

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "notes-1000": lambda: payloads.empty_notes(1000),
    "notes-5000": lambda: payloads.empty_notes(5000),
    "notes-50000": lambda: payloads.empty_notes(50000),
    "lines-1000": lambda: payloads.peppol_lines(1000),
    "lines-10000": lambda: payloads.peppol_lines(10000),
    "xrechnung-lines-10000": lambda: payloads.xrechnung_lines(10000),
}

CHILD = r"""
import json, sys, time
from pathlib import Path
from gateway.validation import Engine
engine = Engine(Path(sys.argv[1]))
data = Path(sys.argv[2]).read_bytes()
engine.validate(data)  # compile what it needs (and the strict XSD model): warm run next
started = time.perf_counter()
report = engine.validate(data)
print(json.dumps({"seconds": time.perf_counter() - started, "status": report.status,
                  "findings": len(report.findings)}))
"""


def _run(code_root: Path, artefacts: Path, doc: Path, limit: float) -> dict | None:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(artefacts), str(doc)],
            env=env,
            capture_output=True,
            text=True,
            timeout=limit * 2 + 60,  # two validations plus compiling
            cwd=code_root,
        )
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result if result["seconds"] <= limit else None


def sizes(artefacts: Path, before: Path | None, rounds: int, limit: float) -> None:
    print("case                      MB   after s   before s   ratio   status (findings)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in CASES.items():
            doc = Path(tmp) / f"{name}.xml"
            doc.write_bytes(build())
            after, prior = [], []
            skip_before = False
            for _ in range(rounds):  # interleaved: after, before, after, before ...
                a = _run(ROOT, artefacts, doc, limit)
                after.append(a)
                if before is not None and not skip_before:
                    b = _run(before, artefacts, doc, limit)
                    prior.append(b)
                    skip_before = b is None  # past the limit once: do not wait again
            a_s = [r["seconds"] for r in after if r]
            b_s = [r["seconds"] for r in prior if r]
            a_med = statistics.median(a_s) if a_s else None
            b_med = statistics.median(b_s) if b_s else None
            ratio = (
                f"{b_med / a_med:6.1f}x"
                if a_med and b_med
                else (f">{limit / a_med:5.0f}x" if a_med and before is not None else "      ")
            )
            shown_b = f"{b_med:9.2f}" if b_med else (f"  >{limit:5.0f}" if before else "        -")
            shown_a = f"{a_med:8.2f}" if a_med else f" >{limit:5.0f}"
            last = next((r for r in after if r), None)
            status = f"{last['status']} ({last['findings']})" if last else "-"
            mb = doc.stat().st_size / 1e6
            print(f"{name:24} {mb:5.2f} {shown_a}  {shown_b}  {ratio}   {status}", flush=True)


async def _latency(artefacts: Path, heavy_tags: int) -> tuple[list[float], float]:
    from gateway.validation import Bounds, Validator

    validator = Validator(
        artefacts, jobs=2, warm=False, bounds=Bounds(timeout=0, heavy_tags=heavy_tags)
    )
    try:
        base = payloads.base_example()
        hostile = payloads.empty_notes(50000)
        for _ in range(2):  # compile on both workers, and the strict XSD model
            warm = payloads.empty_notes(5)
            await asyncio.gather(validator.validate(warm), validator.validate(warm))
        started = time.perf_counter()
        attack = [
            asyncio.ensure_future(validator.validate(hostile, key=k))
            for k in ("smtp:-", "api:mallory")
        ]
        latencies = []
        while not all(t.done() for t in attack):
            t0 = time.perf_counter()
            report = await validator.validate(base, key="api:acme")
            assert report.accepted
            if not all(t.done() for t in attack):
                latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
        return latencies, time.perf_counter() - started
    finally:
        await validator.aclose()


def latency(artefacts: Path) -> None:
    print(
        "\nnormal invoice while two hostile documents (50,000 empty notes) are validated, 2 workers"
    )
    for label, heavy in (("light lane on (default)", 20000), ("light lane off (before)", 0)):
        lat, attack = asyncio.run(_latency(artefacts, heavy))
        if lat:
            print(
                f"  {label}: {len(lat)} invoices, p50 {statistics.median(lat) * 1000:.0f} ms, "
                f"max {max(lat) * 1000:.0f} ms (attack lasted {attack:.1f} s)",
                flush=True,
            )
        else:
            print(f"  {label}: no invoice finished while the attack ran ({attack:.1f} s)")


def memory(artefacts: Path, bounds: object, label: str, warm: bool) -> None:
    """Worker RSS under the suite, after two 11 MB and two 15 MB invoices, and after the suite
    again; with ``warm`` every scenario is compiled when a worker starts, else each on first
    use (the default)."""
    from gateway.validation import Validator

    suite = sorted((payloads.SHARED / "corpus/xrechnung-testsuite").rglob("*.xml"))
    docs = [(p.read_bytes(), None) for p in suite]
    big = [payloads.attachment_invoice(11), payloads.xrechnung_lines(18000)]
    print(
        f"\nworker memory, {label}, 2 workers, "
        + ("every scenario compiled at start" if warm else "scenarios compiled on first use"),
        flush=True,
    )
    validator = Validator(artefacts, jobs=2, warm=warm, bounds=bounds)
    sent = 0

    def show(what: str) -> None:
        health = validator.health()
        rss = ", ".join(
            f"{w['rss_mib']:.0f} (baseline {w['baseline_mib']:.0f})" for w in health["workers"]
        )
        print(
            f"  {what:24} RSS per worker after its last document, MiB: {rss}; "
            f"recycled {health['restarts']['memory']}; validated {health['validated']}/{sent}",
            flush=True,
        )

    try:
        for _ in range(2):
            validator.map(docs)
            sent += len(docs)
        show("suite x2")
        for doc in big:
            validator.map([(doc, None), (doc, None)])
            sent += 2
            show(f"two {len(doc) / 1e6:.0f} MB invoices")
        validator.map(docs)
        sent += len(docs)
        show("suite again")
    finally:
        validator.close()


def memory_before_after(artefacts: Path) -> None:
    """Before: one fixed bound (450 MiB). After: the [validation] defaults (growth over each
    worker's baseline, absolute cap), lazily compiled and with every scenario compiled."""
    from gateway.config import ValidationSettings
    from gateway.validation import Bounds

    v = ValidationSettings()
    after = Bounds(
        max_rss_mib=v.max_worker_rss_mib,
        growth_mib=v.worker_rss_growth_mib,
        floor_mib=v.worker_rss_floor_mib,
    )
    memory(artefacts, Bounds(max_rss_mib=450), "before: max_worker_rss_mib = 450 only", False)
    now = (
        f"after: baseline + {after.growth_mib} MiB, not below {after.floor_mib} MiB,"
        f" cap {after.max_rss_mib} MiB"
    )
    memory(artefacts, after, now, False)
    memory(artefacts, after, now, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GATEWAY_DATA_DIR", "data"))
    parser.add_argument("--before", type=Path, help="checkout of the code before the changes")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--memory", action="store_true", help="worker RSS: the fixed bound before, ours after"
    )
    args = parser.parse_args()
    artefacts = Path(args.data_dir) / "artefacts"
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (shared: compare ratios)"
    )
    if not args.skip_sizes:
        sizes(artefacts, args.before, args.rounds, args.limit)
    if not args.skip_latency:
        latency(artefacts)
    if args.memory:
        memory_before_after(artefacts)


if __name__ == "__main__":
    main()
