"""A 10,000-line invoice, warm, next to the warm JVM (issue 18, target 6).

Usage: python -m bench.large [--data-dir DIR] [--lines 10000 ...] [--rounds 3] [--pairs 1]
                             [--before CHECKOUT] [--no-anchor] [--jvm-warmup 2]

The invoice is the XRechnung suite's 03.01a (it has line periods, what made
PEPPOL-EN16931-R110/R111 quadratic) with its lines repeated to N, each with its own id
(``tests/validation/payloads.xrechnung_lines``, built from the corpus at run time); the totals
no longer add up, so a handful of document-level findings. Ours: a child process
(``gateway.validation.Engine``) validates it once (compiling), then ``--rounds`` times warm;
the median wall and CPU seconds and the per-step split are printed. The reference: the Java
anchor (``bench/jvm/Anchor.java``, Saxon-HE 9.9 in a warm JVM, the two published XRechnung
stylesheets, parse included) on the same file, 1 thread, its JIT warm-up passes discarded.
``--before CHECKOUT`` runs the same child on an older checkout, interleaved with ours, for the
before/after ratio; ``--pairs`` repeats the whole sequence (the machine's speed drifts).
Several ``--lines`` values show how the time grows (seconds per 1,000 lines).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import anchor
from tests.validation import payloads

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from pathlib import Path
from gateway.validation import Engine
engine = Engine(Path(sys.argv[1]))
data = Path(sys.argv[2]).read_bytes()
engine.validate(data)  # compiles the scenario's rules (and the strict XSD model if needed)
runs = []
for _ in range(int(sys.argv[3])):
    wall, cpu = time.perf_counter(), time.process_time()
    report = engine.validate(data)
    runs.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                 "timings": report.timings})
print(json.dumps({"runs": runs, "status": report.status, "findings": len(report.findings)}))
"""


def ours(checkout: Path, artefacts: Path, doc: Path, rounds: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(artefacts), str(doc), str(rounds)],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(result: dict, key: str) -> float:
    return statistics.median(r[key] for r in result["runs"])


def _split(result: dict) -> str:
    steps = result["runs"][0]["timings"].keys() - {"total", "select", "acceptance"}
    return ", ".join(
        f"{step} {statistics.median(r['timings'][step] for r in result['runs']) / 1000:.2f}"
        for step in sorted(steps, key=list(result["runs"][0]["timings"]).index)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GATEWAY_DATA_DIR", "data"))
    parser.add_argument("--lines", type=int, nargs="+", default=[10000])
    parser.add_argument("--rounds", type=int, default=3, help="warm validations per child")
    parser.add_argument("--pairs", type=int, default=1, help="times the whole sequence runs")
    parser.add_argument("--before", type=Path, help="an older checkout, run interleaved")
    parser.add_argument("--no-anchor", action="store_true", help="skip the warm JVM")
    parser.add_argument("--jvm-warmup", type=int, default=2, help="JVM passes not counted")
    parser.add_argument("--jvm-rounds", type=int, default=2, help="JVM passes counted")
    args = parser.parse_args()
    artefacts = (Path(args.data_dir) / "artefacts").resolve()
    print(f"cpus={os.cpu_count()}, rounds={args.rounds}, pairs={args.pairs}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for lines in args.lines:
            doc = Path(tmp) / f"xrechnung-lines-{lines}.xml"
            doc.write_bytes(payloads.xrechnung_lines(lines))
            print(f"{lines} lines, {doc.stat().st_size / 1e6:.2f} MB", flush=True)
            for pair in range(args.pairs):
                mine = ours(ROOT, artefacts, doc, args.rounds)
                wall, cpu = _median(mine, "wall"), _median(mine, "cpu")
                print(
                    f"  [{pair + 1}] ours warm: {wall:.2f} s wall, {cpu:.2f} s CPU "
                    f"({cpu / lines * 1000:.3f} s CPU per 1,000 lines; {mine['status']}, "
                    f"{mine['findings']} findings); steps s: {_split(mine)}",
                    flush=True,
                )
                if args.before is not None:
                    old = ours(args.before.resolve(), artefacts, doc, args.rounds)
                    old_wall, old_cpu = _median(old, "wall"), _median(old, "cpu")
                    print(
                        f"  [{pair + 1}] before warm: {old_wall:.2f} s wall, {old_cpu:.2f} s "
                        f"CPU; after/before wall {wall / old_wall:.2f}x, CPU "
                        f"{cpu / old_cpu:.2f}x; steps s: {_split(old)}",
                        flush=True,
                    )
                if not args.no_anchor:
                    jvm = anchor.warm_figures(
                        artefacts, [doc], [1], args.jvm_warmup, args.jvm_rounds
                    )[1]
                    print(
                        f"  [{pair + 1}] warm JVM, 1 thread: {jvm['pass_s']:.2f} s wall, "
                        f"{jvm['cpu_ms_per_doc'] / 1000:.2f} s CPU; ours/JVM wall "
                        f"{wall / jvm['pass_s']:.2f}x, CPU "
                        f"{cpu * 1000 / jvm['cpu_ms_per_doc']:.2f}x",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
