"""``gateway tenants|keys|participants|webhooks``: the CLI calls the management functions
(the same answers and refusals as the API) on the server's database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.cli import main
from gateway.forwarding import SIGNATURE_HEADER, verify


def _cli(tmp_path: Path, *args: str) -> int:
    cfg = tmp_path / "gateway.toml"
    if not cfg.exists():
        # The webhook receiver of these tests listens on loopback.
        cfg.write_text(
            f'data_dir = "{tmp_path / "data"}"\n[webhooks]\nallow_private_destinations = true\n'
        )
    return main(["--config", str(cfg), *args])


def test_tenants_and_keys(tmp_path: Path, capsys: Any) -> None:
    assert _cli(tmp_path, "tenants", "create", "acme") == 0
    assert capsys.readouterr().out == "created tenant acme\n"
    assert _cli(tmp_path, "tenants", "create", "acme") == 2
    assert "exists already" in capsys.readouterr().err
    assert _cli(tmp_path, "keys", "create", "--tenant", "acme", "--scope", "admin") == 0
    secret = capsys.readouterr().out.strip()
    assert _cli(tmp_path, "participants", "add", "--tenant", "acme", "0088:123") == 0
    assert capsys.readouterr().out == "0088:123 -> acme\n"
    assert _cli(tmp_path, "participants", "list", "--tenant", "acme") == 0
    assert capsys.readouterr().out == "0088:123  acme\n"
    assert _cli(tmp_path, "tenants", "list") == 0
    assert capsys.readouterr().out.startswith("acme  participants=1  keys=1  -")
    assert _cli(tmp_path, "tenants", "list", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "acme" and row["participants"] == 1 and row["active_keys"] == 1
    assert _cli(tmp_path, "tenants", "set-profile", "acme", "--inbound", "billing-portal") == 0
    capsys.readouterr()
    assert _cli(tmp_path, "tenants", "show", "acme") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["participants"] == ["0088:123"]
    assert shown["settings"]["status_profile"]["inbound"] == "billing-portal"
    assert secret not in json.dumps(shown) and len(shown["keys"]) == 1
    key_id = shown["keys"][0]["id"]
    assert _cli(tmp_path, "keys", "revoke", key_id, "--tenant", "beta") == 2  # not beta's
    assert "No API key" in capsys.readouterr().err
    assert _cli(tmp_path, "keys", "revoke", key_id) == 0
    assert capsys.readouterr().out == f"revoked {key_id} (acme)\n"
    assert _cli(tmp_path, "keys", "list", "--tenant", "acme", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked"] is True
    assert _cli(tmp_path, "participants", "remove", "0088:123", "--tenant", "acme") == 0
    assert capsys.readouterr().out == "removed 0088:123\n"
    assert _cli(tmp_path, "tenants", "delete", "acme") == 0
    assert "deleted tenant acme (1 key(s) with it)" in capsys.readouterr().out
    assert _cli(tmp_path, "tenants", "show", "acme") == 2


async def test_webhooks(tmp_path: Path, aiohttp_server: Any, capsys: Any) -> None:
    got: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    url = str(server.make_url("/hook"))

    def cli(*args: str) -> int:
        return _cli(tmp_path, *args)

    rc = await asyncio.to_thread(cli, "webhooks", "set", "--tenant", "acme", url, "--event", "x.y")
    assert rc == 2 and "events is a non-empty list among" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, "webhooks", "set", "--tenant", "acme", url) == 0
    secret = capsys.readouterr().out.strip()
    assert await asyncio.to_thread(cli, "webhooks", "show", "--tenant", "acme") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["url"] == url and shown["secret_set"] and secret not in str(shown)
    assert await asyncio.to_thread(cli, "webhooks", "test", "--tenant", "acme") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["delivered"] and result["status"] == 204
    ((headers, raw),) = got
    assert verify(secret, headers[SIGNATURE_HEADER], raw)
    assert await asyncio.to_thread(cli, "webhooks", "redeliver", "12345") == 2
    assert "No delivery 12345" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, "webhooks", "clear", "--tenant", "acme") == 0
    assert capsys.readouterr().out == "webhook cleared for acme\n"
    assert await asyncio.to_thread(cli, "webhooks", "test", "--tenant", "acme") == 2
    assert "has no webhook" in capsys.readouterr().err
