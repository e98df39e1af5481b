"""Cold start: one ``gateway validate FILE`` and a batch, next to a cold JVM pass (issue 18, target 5).

Usage: python -m bench.coldstart [--data-dir DIR] [--rounds N] [--copies 4] [--jobs 2]
                                 [--before CHECKOUT] [--no-anchor] [--no-batch] [--no-cold-cache]
                                 [--first-document]

Every figure is a whole process, timed from outside (wall and CPU of the child), the commands
taken in turn (A B A B ...) so the machine's drift hits all of them alike; the medians are
printed with the ratios. The commands:

- ``gateway validate FILE`` with the data dir's analysis cache filled (the normal case: the
  first run of a fresh install fills it), and once with it emptied first (``cold cache``);
- the Java anchor's cold pass, ``java Anchor --cold FILE`` (a JVM started, the two XRechnung
  stylesheets compiled, the file validated): the reference;
- the batch: the 86 XRechnung suite files ``--copies`` times (344 files) with
  ``gateway validate --jobs 2`` against ``java Anchor --cold --threads 2`` on the same files.

``--first-document`` times ``gateway serve``'s first document instead: workers started
lazily (the default without ``[validation] warm``) against workers started up front.

Targets: one file <= 1.0 s (the cold JVM pass was 2.18 s), the batch <= 0.5x the cold JVM.
``--before CHECKOUT`` adds that checkout's ``gateway validate FILE`` and batch (run with this
interpreter, its own code first on the path) to compare before and after a change; with it,
use ``--no-cold-cache`` (the emptied cache would make the older checkout's next run cold).
Python writes bytecode caches here as an ordinary install does (PYTHONDONTWRITEBYTECODE is
dropped for the children); a warm-up round runs first and is not counted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import anchor

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT.parent / "shared" / "corpus" / "xrechnung-testsuite"
ONE = SUITE / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"


def _gateway(checkout: Path, *args: str) -> list[str]:
    code = "import sys; from gateway.cli import main; sys.exit(main())"
    return (
        [sys.executable, "-c", code, *args]
        if checkout == ROOT
        else [
            "env",
            f"PYTHONPATH={checkout}",
            sys.executable,
            "-c",
            code,
            *args,
        ]
    )


def timed(command: list[str], env: dict[str, str], before: object = None) -> tuple[float, float]:
    """(wall s, CPU s) of one run of ``command``; ``before`` is called first, untimed."""
    if callable(before):
        before()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, cwd="/tmp", check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # 1: a file was rejected, still a full run
        raise SystemExit(f"{command[:6]} failed ({done.returncode}): {done.stderr.decode()[-800:]}")
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return wall, cpu


def first_document(artefacts: Path, one: Path, rounds: int) -> None:
    """``gateway serve``'s first document, lazy workers (the default) against workers started
    up front: the eager pool's start-up, then its first document; the lazy pool's first
    document, start-up included. In turn, ``rounds`` times; medians."""
    from gateway.validation import Validator

    data = one.read_bytes()
    lazy, eager, ready = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        with Validator(artefacts, jobs=1, warm=False, lazy=True) as pool:
            assert pool.validate_sync(data).status in ("accepted", "rejected")
            lazy.append(time.perf_counter() - started)
        started = time.perf_counter()
        with Validator(artefacts, jobs=1, warm=False) as pool:
            while pool.health()["workers"][0]["state"] != "idle":
                time.sleep(0.005)
            ready.append(time.perf_counter() - started)
            started = time.perf_counter()
            pool.validate_sync(data)
            eager.append(time.perf_counter() - started)
    m = statistics.median
    print(
        f"serve, first document: lazy {m(lazy):.2f} s (worker start included); "
        f"workers up front: start {m(ready):.2f} s, then the first document {m(eager):.2f} s "
        f"({rounds} rounds, medians)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GATEWAY_DATA_DIR", "data"))
    parser.add_argument("--file", default=str(ONE))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4, help="suite copies in the batch")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--before", metavar="CHECKOUT", help="also time this checkout's CLI")
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument(
        "--no-cold-cache", action="store_true", help="skip the run with the cache emptied"
    )
    parser.add_argument(
        "--first-document", action="store_true", help="only serve's first document, lazy/eager"
    )
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    artefacts = data_dir / "artefacts"
    cache = data_dir / "cache" / "validation"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    one = Path(args.file).resolve()
    batch = sorted(SUITE.rglob("*.xml")) * args.copies
    if args.first_document:
        return first_document(artefacts, one, args.rounds)

    commands: dict[str, tuple[list[str], object]] = {
        "gateway validate FILE": (_gateway(ROOT, "validate", str(one)), None),
    }
    if not args.no_cold_cache:
        commands["  same, cold cache"] = (
            _gateway(ROOT, "validate", str(one)),
            lambda: shutil.rmtree(cache, ignore_errors=True),
        )
    if args.before:
        commands["  before (--before)"] = (
            _gateway(Path(args.before).resolve(), "validate", str(one)),
            None,
        )
    if not args.no_anchor:
        commands["cold JVM pass, 1 file"] = (anchor.command(artefacts, [one], "--cold"), None)
    if not args.no_batch:
        batch_args = ("validate", "--jobs", str(args.jobs), *map(str, batch))
        if args.before:
            commands["  batch before (--before)"] = (
                _gateway(Path(args.before).resolve(), *batch_args),
                None,
            )
        commands[f"gateway validate --jobs {args.jobs}, {len(batch)} files"] = (
            _gateway(ROOT, *batch_args),
            None,
        )
        if not args.no_anchor:
            commands[f"cold JVM, {args.jobs} threads, {len(batch)} files"] = (
                anchor.command(artefacts, batch, "--cold", "--threads", str(args.jobs)),
                None,
            )
    print(
        f"{len(commands)} commands in turn, {args.rounds} rounds after one warm-up; "
        f"cpus={os.cpu_count()}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_ in range(args.rounds + 1):
        for name, (command, before) in commands.items():
            figure = timed(command, env, before)
            if round_:
                figures[name].append(figure)
    # the cache as the runs after this one find it
    timed(commands["gateway validate FILE"][0], env)
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in figures.items()
    }
    for name, (wall, cpu) in medians.items():
        print(f"{name:<44} wall {wall:6.2f} s  cpu {cpu:6.2f} s")
    ours = medians["gateway validate FILE"][0]
    print(f"one file: {ours:.2f} s (target <= 1.0 s)", end="")
    if "cold JVM pass, 1 file" in medians:
        print(f"; {ours / medians['cold JVM pass, 1 file'][0]:.2f}x the cold JVM pass", end="")
    if args.before:
        print(f"; {ours / medians['  before (--before)'][0]:.2f}x before", end="")
    print()
    names = list(medians)
    if not args.no_batch and not args.no_anchor:
        ours_batch, jvm_batch = medians[names[-2]][0], medians[names[-1]][0]
        print(
            f"batch: {ours_batch:.2f} s vs cold JVM {jvm_batch:.2f} s: "
            f"{ours_batch / jvm_batch:.2f}x (target <= 0.5x)",
            end="",
        )
        if args.before:
            print(f"; {ours_batch / medians['  batch before (--before)'][0]:.2f}x before", end="")
        print()
    for name, runs in figures.items():  # the pairs behind the medians (the machine drifts)
        print(f"  {name.strip():<42} walls: " + " ".join(f"{w:.2f}" for w, _ in runs))
    print(f"load at the end {os.getloadavg()[0]:.1f} (a shared machine: quote ratios)")


if __name__ == "__main__":
    main()
