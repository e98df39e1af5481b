"""``gateway validate --daemon --kosit-config DIR``: KoSIT's HTTP daemon contract (``-D``).

What KoSIT 1.6 answers (``daemon/CheckHandler``, ``RoutingHandler``, ``HealthHandler``,
``ConfigHandler``), and so do we:

- ``POST`` on any path, the XML as the body; the last path segment names the input (``/`` gets
  ``supplied_instance_N``). 200 with the report when acceptable, 406 when not (no scenario
  matched included), 422 when processing failed (the input is not well-formed XML - KoSIT stops
  there too - or a stylesheet failed), 400 for an empty or multipart body;
- ``GET /server/health``: ``<health>`` (status, application, memory) as ``daemon.xsd`` says;
  ``GET /server/config``: the configuration's ``scenarios.xml``; ``GET /``: a usage page;
- 405 for any other method (and for ``GET`` elsewhere, as KoSIT with its GUI disabled).

The validation runs on the gateway's worker pool (:class:`gateway.validation.Validator`, a
process per job), so the event loop only moves bytes; bodies over ``[validation] max_bytes``
are refused with 413 while they stream in.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from gateway.validation.kosit.config import KositConfig
from gateway.validation.kosit.report_input import engine_name

DAEMON = "http://www.xoev.de/de/validator/framework/1/daemon"
XML = "application/xml"
VALIDATOR: web.AppKey[Any] = web.AppKey("kosit-validator", object)
CONFIG: web.AppKey[KositConfig] = web.AppKey("kosit-config", KositConfig)
_counter = itertools.count(1)


def status_for(report: Any) -> int:
    """KoSIT's ``CheckHandler.resolveStatus``: processed -> 200/406, otherwise 422."""
    if report.status in ("accepted",):
        return 200
    if report.status in ("rejected", "no-scenario"):
        return 406
    return 422  # not-well-formed, forbidden-construct, too-large, processing-error


def make_app(config: KositConfig, validator: Any, max_bytes: int) -> web.Application:
    app = web.Application(client_max_size=max_bytes)
    app[CONFIG] = config
    app[VALIDATOR] = validator
    app.router.add_get("/server/health", _health)
    app.router.add_get("/server/config", _config)
    app.router.add_get("/", _usage)
    app.router.add_route("*", "/{tail:.*}", _check)
    return app


async def _check(request: web.Request) -> web.Response:
    if request.method != "POST":
        return _error(405, f"Method {request.method} not supported")
    if request.content_type.startswith("multipart"):
        return _error(400, "No content supplied (multipart/form-data is not supported)")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "Request body too large")
    if not body:
        return _error(400, "No content supplied")
    segment = request.path.rstrip("/").rsplit("/", 1)[-1]
    name = segment or f"supplied_instance_{next(_counter)}"
    try:
        report = await request.app[VALIDATOR].validate(body, name=name)
    except Exception as exc:  # KoSIT: 500 "Internal error: ..."
        return _error(500, f"Internal error: {exc}")
    if report.kosit_report is None:
        return _error(422, report.reason or report.status)
    return web.Response(
        body=report.kosit_report.encode("utf-8"),
        status=status_for(report),
        content_type=XML,
        charset="utf-8",
    )


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


async def _health(request: web.Request) -> web.Response:
    validator = request.app[VALIDATOR]
    up = bool(request.app[CONFIG].scenarios) and validator.alive()
    total = sum(_rss(pid) for pid in [os.getpid(), *validator.pids()])
    name, _, version = engine_name().partition(" ")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<health xmlns="{DAEMON}">'
        f"<status>{'UP' if up else 'DOWN'}</status>"
        f"<application><name>{escape(name)}</name><version>{escape(version)}</version>"
        f"<build>{escape(sys.version.split()[0])}</build></application>"
        f"<memory><freeMemory>{_meminfo('MemAvailable')}</freeMemory>"
        f"<maxMemory>{_meminfo('MemTotal')}</maxMemory><totalMemory>{total}</totalMemory>"
        "</memory></health>"
    )
    return web.Response(text=body, content_type=XML)


async def _config(request: web.Request) -> web.Response:
    return web.Response(body=request.app[CONFIG].text, content_type=XML)


async def _usage(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    names = "".join(f"<li>{escape(k.scenario.name)}</li>" for k in config.scenarios)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>KoSIT validation daemon</title>"
        f"</head><body><h1>{escape(config.name)}</h1><p>POST an XML document to any path; the "
        "answer is the validation report (200 acceptable, 406 not acceptable, 422 not "
        "processable). <code>/server/health</code>, <code>/server/config</code>.</p>"
        f"<h2>Scenarios</h2><ul>{names}</ul></body></html>"
    )
    return web.Response(text=page, content_type="text/html")


def _rss(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _meminfo(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def serve(config: KositConfig, settings: Any, host: str, port: int, jobs: int | None) -> int:
    """Run the daemon until interrupted (the CLI's ``--daemon``)."""
    from gateway.documents import ParseLimits
    from gateway.validation import Validator

    jobs = jobs if jobs and jobs > 1 else settings.validation.jobs
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)

    async def main() -> None:
        validator = Validator(
            settings.artefacts_dir,
            jobs=jobs,
            limits=limits,
            stand_ins=settings.validation.stand_ins,
            kosit_config=config.path,
            kosit_repository=config.repository,
        )
        runner = web.AppRunner(make_app(config, validator, settings.validation.max_bytes))
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"Daemon started. Visit http://{host}:{port}", file=sys.stderr, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await validator.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
