"""System (artefact bundles, validation workers, queues, database) and the API description,
rendered server-side from the same document ``GET /v1/openapi.json`` serves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text

from gateway import __version__
from gateway.artefacts import installed_info
from gateway.console.guard import viewer
from gateway.console.keys import ROOT
from gateway.console.render import page
from gateway.outbound.api import OUTBOUND
from gateway.web import DB, INTAKE, SETTINGS, build_openapi

METHODS = ("get", "post", "put", "patch", "delete")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/system", show)
    router.add_get("/api", api_docs)


async def show(request: web.Request) -> web.Response:
    viewer(request)
    root = request.app[ROOT]
    settings = root[SETTINGS]
    info = await asyncio.to_thread(installed_info, settings.artefacts_dir)
    bundles = [
        {k: b.get(k) for k in ("id", "name", "version", "publisher", "licence", "source", "kind")}
        | {"files": len(b.get("files", {}))}
        for b in (info or {}).get("bundles", [])
    ]
    report = getattr(root[INTAKE].validator, "health", None)
    validation: dict[str, Any] = dict(report()) if report else {"mode": "starting", "workers": []}
    database = "ok"
    started = time.perf_counter()
    try:
        async with root[DB].read() as s:
            await s.execute(text("SELECT 1"))
    except Exception as exc:  # a page that reports, never fails, when the database is away
        database = f"error: {type(exc).__name__}"
    queue = await root[OUTBOUND].queue.stats()
    return page(
        request,
        "system.html",
        {
            "version": __version__,
            "database": database,
            "dialect": root[DB].engine.dialect.name,
            "db_ms": round((time.perf_counter() - started) * 1000, 1),
            "installed": info,
            "bundles": bundles,
            "validation": validation,
            "queue": queue,
        },
    )


def operations(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The description's operations grouped by tag, in path order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": list((op.get("requestBody") or {}).get("content", {})),
                    "responses": sorted(op.get("responses", {}).items()),
                    "security": bool(op.get("security")),
                }
            )
    return sorted(groups.items())


async def api_docs(request: web.Request) -> web.Response:
    viewer(request)
    spec = build_openapi(request.app[ROOT], title="einvoice-gateway", version=__version__)
    return page(
        request,
        "api.html",
        {
            "spec": spec,
            "groups": operations(spec),
            "count": sum(len(p) for p in spec["paths"].values()),
        },
    )
