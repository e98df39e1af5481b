"""Validation throughput and latency on the KoSIT XRechnung test suite.

Usage: python bench/validate.py [--data-dir DIR] [--rounds N] [--jobs 1 2]

For each job count it starts a fresh worker pool, warms it, then runs a closed loop with as
many concurrent clients as workers over the 86 files (``--rounds`` times), and prints docs/s,
p50/p99 latency, the per-step time split (where the time goes) and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.validation import Validator  # noqa: E402


CLIENTS_PER_JOB = int(os.environ.get("CPJ", "1"))


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run(artefacts: Path, docs: list[bytes], jobs: int, rounds: int) -> dict[str, float]:
    validator = Validator(artefacts, jobs=jobs, warm=True)
    try:
        # Warm every worker (compile XSD/XSLT) before measuring.
        await asyncio.gather(*(validator.validate(d) for d in docs[: jobs * 4]))
        queue = [d for _ in range(rounds) for d in docs]
        latencies: list[float] = []
        steps: dict[str, float] = {}
        accepted = 0

        async def client() -> None:
            nonlocal accepted
            while queue:
                data = queue.pop()
                t0 = time.perf_counter()
                report = await validator.validate(data)
                latencies.append(time.perf_counter() - t0)
                accepted += report.accepted
                for k, v in report.timings.items():
                    steps[k] = steps.get(k, 0.0) + v

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(jobs * CLIENTS_PER_JOB)))
        elapsed = time.perf_counter() - start
    finally:
        await validator.aclose()
    n = len(latencies)
    return {
        "docs": n,
        "accepted": accepted,
        "docs_per_s": n / elapsed,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        **{f"step_{k}": v / n for k, v in steps.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GATEWAY_DATA_DIR", "data"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/corpus/xrechnung-testsuite"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    docs = [p.read_bytes() for p in sorted(Path(args.corpus).rglob("*.xml"))]
    print(
        f"corpus: {len(docs)} files from {args.corpus}, {args.rounds} rounds, cpus={os.cpu_count()}"
    )
    for jobs in args.jobs:
        r = asyncio.run(run(Path(args.data_dir) / "artefacts", docs, jobs, args.rounds))
        print(
            f"jobs={jobs}: {r['docs_per_s']:.1f} docs/s  p50={r['p50_ms']:.1f} ms  "
            f"p99={r['p99_ms']:.1f} ms  ({r['docs']} docs, {r['accepted']} accepted)"
        )
        split = {k[5:]: v for k, v in r.items() if k.startswith("step_") and k != "step_total"}
        print(
            "  per-document time in worker (ms): "
            + ", ".join(f"{k} {v:.2f}" for k, v in split.items())
            + f"; worker total {r.get('step_total', 0):.2f}, round trip {r['mean_ms']:.2f}"
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main {own:.0f} MiB, largest worker {kids:.0f} MiB")


if __name__ == "__main__":
    main()
