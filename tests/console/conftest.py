"""A real gateway per test (tests/live_gateway.py) and a cookie-keeping client that signs in
to its console like a browser (form, CSRF token from the page, session cookie)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.live_gateway import Gw

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    """A browser-like client of one gateway's console (its own cookie jar)."""

    gw: Gw
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.gw.url + "/console"

    async def get(self, path: str, **kw: Any) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.url + path, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp

    async def post(
        self, path: str, data: dict[str, str], **kw: Any
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.post(self.url + path, data=data, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp

    async def csrf(self, path: str = "/") -> str:
        status, body, _ = await self.get(path)
        assert status == 200, body
        return CSRF.search(body).group(1)  # type: ignore[union-attr]

    async def sign_in(self, key: str, next_: str = "") -> aiohttp.ClientResponse:
        status, body, _ = await self.get("/sign-in")
        assert status == 200
        token = CSRF.search(body).group(1)  # type: ignore[union-attr]
        _, _, resp = await self.post("/sign-in", {"csrf": token, "key": key, "next": next_})
        return resp

    async def act(self, path: str, data: dict[str, str], page: str = "/") -> tuple[int, str]:
        """POST a form with the session's CSRF token (read from ``page``)."""
        token = await self.csrf(page)
        status, body, _ = await self.post(path, {**data, "csrf": token})
        return status, body


@pytest.fixture
async def gw(gw_factory: Any) -> Gw:
    return await gw_factory()


@pytest.fixture
async def console_for() -> AsyncIterator[Any]:
    """``console_for(gw)``: a new browser-like client (own cookies) of ``gw``'s console."""
    sessions: list[aiohttp.ClientSession] = []

    def make(gw: Gw) -> Console:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        return Console(gw, http)

    yield make
    for http in sessions:
        await http.close()
