"""What a one-shot ``gateway validate FILE`` and a worker process import at start: not the
worker pool's asyncio facade, which cost each ~0.1 s (issue 18, target 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS

XR_UBL = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"
HEAVY = ("asyncio", "ssl", "concurrent.futures")


def _loaded(code: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport sys; print([m for m in {HEAVY!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode in (0, 1), out.stderr  # 1: the exit status of a rejected file
    return eval(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_worker_process_starts_without_the_pool_facade() -> None:
    assert _loaded("import gateway.validation.pool.process") == []


def test_one_file_validates_without_the_pool(installed_data_dir: Path) -> None:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(installed_data_dir)}
    code = (
        "from gateway.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(XR_UBL)!r}])\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert _loaded(code, env) == []
