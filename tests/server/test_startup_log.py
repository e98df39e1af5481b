"""The start-up line tells the operator what ``[validation] warm`` means for the first
documents: compiled on first use (about 1 s once per worker) unless warmed at start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_settings
from gateway.server.app import create_app


@pytest.mark.parametrize(
    ("warm", "says"),
    [
        ([], "every scenario is compiled on first use (that document waits about 1 s"),
        (["peppol-bis3-invoice"], "scenarios other than peppol-bis3-invoice are compiled on"),
        (["*"], "every scenario compiled at start"),
    ],
)
async def test_the_started_line_names_the_warm_setting(
    tmp_path: Path, validator: Any, aiohttp_client: Any, caplog: Any, warm: list[str], says: str
) -> None:
    settings = load_settings(
        env={}, overrides={"data_dir": str(tmp_path / "data"), "validation": {"warm": warm}}
    )
    with caplog.at_level(logging.INFO, logger="gateway.server.app"):
        await aiohttp_client(create_app(settings, validator=validator))
    (line,) = [r for r in caplog.records if r.getMessage().startswith("gateway started")]
    assert says in line.getMessage() and '[validation] warm = ["*"]' in line.getMessage()
    assert line.validation_warm == warm and line.first_document in line.getMessage()
