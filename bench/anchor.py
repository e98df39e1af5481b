"""The Java anchor (``bench/jvm/Anchor.java``): Saxon-HE in a JVM, KoSIT's engine, as the
reference of issue 18's targets 4 and 5, run by the bench scripts in the same run as ours.

It needs a JDK (``javac``/``java``, OpenJDK 17 here) and Debian's ``libsaxonhe-java``
(Saxon-HE 9.9, ``/usr/share/java/Saxon-HE.jar``; ``apt-get install libsaxonhe-java``). The
class is compiled once into a cache folder keyed by the source's sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "jvm" / "Anchor.java"
SAXON_JAR = Path(os.environ.get("SAXON_HE_JAR", "/usr/share/java/Saxon-HE.jar"))


class AnchorMissing(RuntimeError):
    pass


def classpath() -> str:
    """Compile Anchor.java if needed; the classpath to run it with."""
    if not SAXON_JAR.exists():
        raise AnchorMissing(f"{SAXON_JAR} missing: apt-get install libsaxonhe-java")
    if shutil.which("javac") is None:
        raise AnchorMissing("javac missing: a JDK (openjdk-17-jdk-headless) is needed")
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"gateway-anchor-{digest}"
    if not (out / "Anchor.class").exists():
        staging = Path(tempfile.mkdtemp(prefix="gateway-anchor-"))
        subprocess.run(
            ["javac", "-cp", str(SAXON_JAR), "-d", str(staging), str(SOURCE)],
            check=True,
        )
        try:
            staging.rename(out)
        except OSError:  # another run built it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return f"{out}{os.pathsep}{SAXON_JAR}"


def command(artefacts: Path, files: list[Path], *options: str) -> list[str]:
    """The ``java`` command line that runs the anchor on ``files``."""
    return [
        "java",
        "-cp",
        classpath(),
        "Anchor",
        "--artefacts",
        str(artefacts),
        *options,
        *map(str, files),
    ]


def warm(
    artefacts: Path, files: list[Path], threads: list[int], warmup: int, rounds: int
) -> dict[int, float]:
    """docs/s of the warm JVM per thread count (median of ``rounds`` counted passes)."""
    figures = warm_figures(artefacts, files, threads, warmup, rounds)
    return {n: values["docs_per_s"] for n, values in figures.items()}


def warm_figures(
    artefacts: Path, files: list[Path], threads: list[int], warmup: int, rounds: int
) -> dict[int, dict[str, float]]:
    """Per thread count: ``docs_per_s``, ``cpu_ms_per_doc`` and ``pass_s`` (the median
    counted pass's wall seconds) of the warm JVM."""
    out = subprocess.run(
        command(
            artefacts,
            files,
            "--threads",
            ",".join(map(str, threads)),
            "--warmup",
            str(warmup),
            "--rounds",
            str(rounds),
        ),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {
        int(m.group(1)): {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m.group(2))}
        for m in re.finditer(r"threads=(\d+) (.*)", out)
    }
