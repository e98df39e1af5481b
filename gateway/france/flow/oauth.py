"""The standard's OAuth2 client-credentials scheme, on our API keys (RFC 6749 section 4.4).

XP Z12-013 lets a client authenticate with a client id and secret for a token. A gateway key
``gw_<id>_<secret>`` is such a pair already: client id ``gw_<id>`` (or ``<id>``), client secret
``<secret>``, sent as HTTP Basic or in the form (section 2.3.1). The token answered is the key
itself, valid for as long as the key is (revoking the key revokes it); nothing new is stored,
and the key is checked exactly as a bearer token is (hashed, constant time, failures counted
by the same per-address limiter). Errors are OAuth2's own (section 5.2), not the Flow API's.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from gateway.store import repo
from gateway.web import AUTH_LIMITER, DB, operation, read_capped

PREFIX = "gw_"
MAX_FORM = 4096


def _oauth_error(status: int, code: str, text: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": code, "error_description": text},
        status=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _credentials(request: web.Request, form: dict[str, str]) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client, sep, secret = decoded.partition(":")
        return (unquote_plus(client), unquote_plus(secret)) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


@operation(
    "AFNOR Flow API: OAuth2 client-credentials token (client id/secret = a gateway key)",
    tag="afnor-flow",
    responses={200: {"type": "object"}},
    errors=(400, 401, 429),
)
async def token(request: web.Request) -> web.Response:
    limiter = request.app.get(AUTH_LIMITER)
    client = request.remote or "unknown"
    if limiter is not None and (wait := limiter.retry_after(client)) is not None:
        return _oauth_error(
            429,
            "slow_down",
            "Too many failed authentications.",
            **{"Retry-After": str(math.ceil(wait))},
        )
    if request.content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "Send application/x-www-form-urlencoded.")
    raw = await read_capped(request, MAX_FORM)
    try:
        pairs = [p.split("=", 1) for p in raw.decode("ascii").split("&") if p]
        form: dict[str, Any] = {unquote_plus(k): unquote_plus(v) for k, v in pairs}
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "invalid_request", "The form cannot be read.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is served.")
    found = _credentials(request, form)
    key = None
    if found is not None:
        client_id, secret = found
        key_id = client_id.removeprefix(PREFIX)
        if key_id and secret and "_" not in key_id and len(key_id) + len(secret) < 200:
            presented = f"{PREFIX}{key_id}_{secret}"
            async with request.app[DB].read() as s:
                key = await repo.verify_api_key(s, presented)
    if key is None:
        if limiter is not None:
            limiter.failed(client)
        return _oauth_error(
            401,
            "invalid_client",
            "Unknown client id or secret (a gateway key: gw_<id> and its secret).",
            **{"WWW-Authenticate": 'Basic realm="gateway"'},
        )
    return web.json_response(
        {
            "access_token": presented,
            "token_type": "Bearer",
            "scope": " ".join(sorted(key.scope_set)),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
