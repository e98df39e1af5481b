"""Sign-in, session cookie, expiry, sign-out, revoked keys, CSRF and redirects of /console."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from gateway.console.models import ConsoleSession
from gateway.console.sessions import digest
from gateway.store import repo
from gateway.web import SETTINGS


async def test_pages_need_a_session_and_send_you_back_after_sign_in(
    gw: Any, console_for: Any
) -> None:
    c = console_for(gw)
    status, _, resp = await c.get("/documents?status=duplicate")
    assert status == 303
    assert (
        resp.headers["Location"] == "/console/sign-in?next=/console/documents%3Fstatus%3Dduplicate"
    )
    key = await gw.key("acme", "admin")
    resp = await c.sign_in(key, "/console/documents?status=duplicate")
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/documents?status=duplicate"
    status, body, _ = await c.get("/documents?status=duplicate")
    assert status == 200 and "Documents" in body


async def test_session_cookie_is_httponly_strict_and_holds_no_key(
    gw: Any, console_for: Any
) -> None:
    key = await gw.key("acme", "admin")
    resp = await console_for(gw).sign_in(key)
    cookie = resp.cookies["gw_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain http on loopback
    assert int(cookie["max-age"]) == int(gw.app[SETTINGS].console.session_seconds)
    token = cookie.value
    secret = key.split("_", 2)[2]  # gw_<id>_<secret>; the secret may hold "_" itself
    assert key not in token and secret not in token
    async with gw.db.read() as s:
        rows = list(await s.scalars(select(ConsoleSession)))
    assert [r.token_sha256 for r in rows] == [digest(token)]  # only the hash is stored


async def test_cookie_is_secure_behind_a_tls_proxy(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    c = console_for(gw)
    _status, body, _ = await c.get("/sign-in")
    token = body.split('name="csrf" value="')[1].split('"')[0]
    _, _, resp = await c.post(
        "/sign-in", {"csrf": token, "key": key}, headers={"X-Forwarded-Proto": "https"}
    )
    assert resp.status == 303 and resp.cookies["gw_console"]["secure"]


async def test_wrong_and_unsuitable_keys_are_refused(gw: Any, console_for: Any) -> None:
    c = console_for(gw)
    submit_only = await gw.key("acme", "submit")
    for key, status, words in (
        ("gw_0123456789ab_" + "x" * 43, 401, "unknown or revoked"),
        ("not a key", 401, "unknown or revoked"),
        (submit_only, 403, "may not use the console"),
    ):
        resp = await c.sign_in(key)
        assert resp.status == status
        assert words in await resp.text()
        assert "gw_console" not in resp.cookies
    async with gw.db.read() as s:
        assert list(await s.scalars(select(ConsoleSession))) == []


async def test_sign_in_form_needs_its_csrf_token(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    c = console_for(gw)
    await c.get("/sign-in")  # sets the pre-session cookie
    status, body, resp = await c.post("/sign-in", {"key": key})
    assert status == 403 and "CSRF" in body and "gw_console" not in resp.cookies
    status, body, _ = await c.post("/sign-in", {"key": key, "csrf": "guess"})
    assert status == 403


async def test_no_open_redirect_after_sign_in(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    for target in (
        "https://evil.example/console/",
        "//evil.example/console/",
        "/\\evil.example",
        "/v1/documents",
        "javascript:alert(1)",
        "/console/../v1/documents",
        "/console/sign-in",
    ):
        resp = await console_for(gw).sign_in(key, target)
        assert resp.status == 303
        location = resp.headers["Location"]
        assert location in ("/console/", target) and location.startswith("/console"), target
        if location == target:  # the only accepted shape: a console path
            assert target.startswith("/console/") and "//" not in target
    resp = await console_for(gw).sign_in(key, "/console/documents?number=1")
    assert resp.headers["Location"] == "/console/documents?number=1"


async def test_sign_out_ends_the_session_for_good(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    c = console_for(gw)
    resp = await c.sign_in(key)
    token = resp.cookies["gw_console"].value
    status, _ = await c.act("/sign-out", {})
    assert status == 303
    # The same cookie replayed by someone who copied it: no longer valid.
    replay = console_for(gw)
    replay.http.cookie_jar.update_cookies({"gw_console": token}, response_url=gw_url(gw))
    status, _, resp = await replay.get("/")
    assert status == 303 and "/console/sign-in" in resp.headers["Location"]


def gw_url(gw: Any) -> Any:
    from yarl import URL

    return URL(gw.url + "/console/")


async def test_revoking_the_key_ends_its_sessions(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    c = console_for(gw)
    await c.sign_in(key)
    assert (await c.get("/"))[0] == 200
    async with gw.db.write() as s:
        await repo.revoke_api_key(s, key)
    status, _, resp = await c.get("/")
    assert status == 303 and "/console/sign-in" in resp.headers["Location"]


async def test_sessions_expire_and_idle_out(gw_factory: Any, console_for: Any) -> None:
    gw = await gw_factory(settings={"console": {"session_seconds": 1.0}})
    c = console_for(gw)
    await c.sign_in(await gw.key("acme", "admin"))
    assert (await c.get("/"))[0] == 200
    await asyncio.sleep(1.2)
    assert (await c.get("/"))[0] == 303
    idle = await gw_factory(settings={"console": {"idle_seconds": 1.0}})
    c = console_for(idle)
    await c.sign_in(await idle.key("acme", "admin"))
    assert (await c.get("/"))[0] == 200
    await asyncio.sleep(1.3)
    assert (await c.get("/"))[0] == 303


async def test_every_form_needs_the_csrf_token(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme", "admin")
    first = await gw.receive(key, gw.base_invoice)
    dup = await gw.receive(key, gw.base_invoice)
    assert dup["status"] == "duplicate"
    c = console_for(gw)
    await c.sign_in(key)
    other = console_for(gw)
    await other.sign_in(key)
    foreign = await other.csrf()  # a valid token, of another session
    for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": foreign}):
        status, body, _ = await c.post(
            f"/documents/{dup['id']}/mark-original", {"reason": "mine", **data}
        )
        assert status == 403 and "CSRF" in body, data
    for path in ("/sign-out", "/tenant", f"/documents/{first['id']}/status"):
        status, body, _ = await c.post(path, {"status": "approved"})
        assert status == 403 and "CSRF" in body
    assert (await gw.doc(key, dup["id"]))["status"] == "duplicate"
    assert (await c.get("/"))[0] == 200  # still signed in: sign-out without a token did nothing
    status, _ = await c.act(f"/documents/{dup['id']}/mark-original", {"reason": "mine"})
    assert status == 303
    assert (await gw.doc(key, dup["id"]))["status"] == "received"


async def test_pages_carry_safe_headers(gw: Any, console_for: Any) -> None:
    c = console_for(gw)
    await c.sign_in(await gw.key("acme", "admin"))
    _, _, resp = await c.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.postgres
async def test_a_session_works_on_every_gateway_process_of_one_database(
    gw_factory: Any, console_for: Any, pg_database: str
) -> None:
    """Two gateways on one PostgreSQL database (as two processes would be): a session made on
    one is accepted by the other, and sign-out on the other ends it on both."""
    one = await gw_factory(settings={"database_url": pg_database})
    two = await gw_factory(settings={"database_url": pg_database})
    key = await one.key("acme", "admin")
    c = console_for(one)
    token = (await c.sign_in(key)).cookies["gw_console"].value
    other = console_for(two)
    other.http.cookie_jar.update_cookies({"gw_console": token}, response_url=gw_url(two))
    assert (await other.get("/"))[0] == 200
    assert (await other.act("/sign-out", {}))[0] == 303
    assert (await c.get("/"))[0] == 303


async def test_failed_sign_ins_are_rate_limited_like_api_keys(
    gw_factory: Any, console_for: Any
) -> None:
    gw = await gw_factory(settings={"http": {"auth_failures_per_minute": 3}})
    key = await gw.key("acme", "admin")
    c = console_for(gw)
    for _ in range(3):
        assert (await c.sign_in("gw_0123456789ab_" + "y" * 43)).status == 401
    resp = await c.sign_in(key)  # even the right key waits now
    assert resp.status == 429 and "gw_console" not in resp.cookies
