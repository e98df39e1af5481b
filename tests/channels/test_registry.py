"""One channel interface: the app runs whatever the registry holds, and /health lists it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from gateway.channels import Channel, ChannelContext, ChannelRegistry
from gateway.config import load_settings
from gateway.server import create_app, inbound_channels


class Recorder:
    """A minimal channel: records its lifecycle and reports health."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")

    def health(self) -> str:
        return "ok"


def _settings(tmp_path: Path, **extra: Any) -> Any:
    return load_settings(env={}, overrides={"data_dir": str(tmp_path / "data"), **extra})


def test_the_built_in_channel_kinds() -> None:
    assert list(inbound_channels()) == ["rest", "smtp", "as4", "folder"]


async def test_channels_come_from_the_registry(
    tmp_path: Path, validator: Any, aiohttp_server: Any
) -> None:
    log: list[str] = []
    registry = inbound_channels()
    # A new channel kind is one registration: built, started, health-reported, stopped.
    registry.register("recorder", lambda ctx: [Recorder("recorder", log)])
    folder = tmp_path / "in"
    settings = _settings(
        tmp_path,
        folders=[{"tenant": "acme", "path": str(folder)}],
        smtp={"port": 0},
    )
    app = create_app(settings, validator=validator, channels=registry)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http, http.get(str(server.make_url("/health"))) as resp:
        body = await resp.json()
    assert resp.status == 200, body
    assert body["channels"] == {"rest": "ok", f"folder:{folder}": "ok", "recorder": "ok"}
    assert log == ["start recorder"]
    assert (folder / "processed").is_dir()  # the folder channel prepared its folder at start
    await server.close()
    assert log == ["start recorder", "stop recorder"]


async def test_a_failing_channel_degrades_health(
    tmp_path: Path, validator: Any, aiohttp_server: Any
) -> None:
    class Broken(Recorder):
        def health(self) -> str:
            return "error: listener gone"

    def only_broken(ctx: ChannelContext) -> list[Channel]:
        assert ctx.intake is not None and ctx.outbound is not None
        return [Broken("broken", [])]

    app = create_app(
        _settings(tmp_path), validator=validator, channels=ChannelRegistry({"broken": only_broken})
    )
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http, http.get(str(server.make_url("/health"))) as resp:
        assert resp.status == 503
        assert (await resp.json())["channels"] == {"broken": "error: listener gone"}
    # Without the REST channel, the document API is not mounted at all.
    paths = {r.canonical for r in app.router.resources()}
    assert "/v1/documents" not in paths and "/health" in paths
