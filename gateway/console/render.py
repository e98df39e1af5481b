"""Rendering helpers: the page context every template gets, and Jinja filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.console.keys import TENANTS, VIEWER

#: Navigation: (path below /console, label, operator only)
NAV = (
    ("/", "Dashboard", False),
    ("/documents", "Documents", False),
    ("/duplicates", "Duplicates", False),
    ("/outbound", "Outbound", False),
    ("/responses", "Responses", False),
    ("/as4", "AS4", False),
    ("/tenants", "Tenants", False),
    ("/system", "System", False),
    ("/api", "API", False),
)


def page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render ``template`` with the viewer, the navigation and ``context``."""
    viewer = request.get(VIEWER)
    ctx = {
        "viewer": viewer,
        "nav": [(p, label) for p, label, op in NAV if not op or (viewer and viewer.is_operator)],
        "here": request.path,
        "here_qs": request.path_qs,
        "tenants_for_switch": request.get(TENANTS, []),
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, ctx, status=status)


def when(value: str | None) -> str:
    """``2026-12-01T14:05:09.123Z`` -> ``2026-12-01 14:05:09 UTC``."""
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(seconds: float | None) -> str:
    """A duration for people: 42 s, 5 min, 3 h 10 min, 2 d 4 h."""
    if not seconds:
        return "-"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


FILTERS = {"when": when, "age": age, "size": size}
