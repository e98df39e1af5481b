"""Requests sent byte for byte, for what aiohttp's client refuses to send (bad header bytes)."""

from __future__ import annotations

import asyncio
from typing import Any


async def raw_http(port: int, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``request`` to 127.0.0.1:``port``; the status code (0 if none) and the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), timeout)
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, data


def port_of(gateway: Any) -> int:
    return int(gateway.url.rsplit(":", 1)[1])
