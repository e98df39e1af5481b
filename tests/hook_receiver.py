"""A webhook receiver on loopback that keeps every body, and a host name that resolves inside
(for the destination guard's tests)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from gateway.forwarding import not_public


@dataclass
class Hook:
    """What the receiver got: each body in ``got``, its headers at the same index in
    ``headers``; it answers ``status`` (a test may change it between deliveries)."""

    url: str = ""
    status: int = 204
    got: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


async def hook_receiver(aiohttp_server: Any, path: str = "/hook", status: int = 204) -> Hook:
    """A real server on 127.0.0.1 answering ``status`` (then ``hook.status``) to POST ``path``."""
    hook = Hook(status=status)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        hook.headers.append(dict(request.headers))
        hook.got.append(body)
        return web.Response(status=hook.status)

    app = web.Application()
    app.router.add_post(path, handle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    hook.url = str(server.make_url(path))
    return hook


def internal_name() -> str:
    """A host name (not ``localhost``) that resolves to a non-public address here: the machine's
    own name, which /etc/hosts maps to loopback or its private address (skips otherwise)."""
    name = socket.gethostname()
    try:
        addresses = {i[4][0] for i in socket.getaddrinfo(name, None)}
    except OSError:
        pytest.skip(f"the host name {name} does not resolve")
    if not any(not_public(str(a)) for a in addresses):
        pytest.skip(f"the host name {name} resolves to public addresses only")
    return name
