"""The console's route table and sub-application."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.console import actions, dashboard, documents, pages, signin
from gateway.console.guard import guard_middleware
from gateway.console.keys import PREFIX, ROOT
from gateway.console.render import FILTERS

HERE = Path(__file__).resolve().parent


def setup(app: web.Application) -> web.Application:
    """Mount the console under ``/console`` on the gateway's ``app``."""
    console = web.Application(middlewares=[guard_middleware])
    console[ROOT] = app
    env = aiohttp_jinja2.setup(
        console,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
    )
    env.filters.update(FILTERS)
    r = console.router
    r.add_get("/sign-in", signin.sign_in_form)
    r.add_post("/sign-in", signin.sign_in)
    r.add_post("/sign-out", signin.sign_out)
    r.add_post("/tenant", signin.switch_tenant)
    r.add_get("/", dashboard.show)
    r.add_get("/documents", documents.list_page)
    r.add_get("/documents/{id}", documents.detail)
    r.add_get("/documents/{id}/raw", documents.raw)
    r.add_get("/documents/{id}/rendering", documents.rendering)
    r.add_get(r"/documents/{id}/attachments/{n:\d+}", documents.attachment)
    r.add_post("/documents/{id}/mark-original", actions.mark_original)
    r.add_post("/documents/{id}/status", actions.change_status)
    r.add_post("/documents/{id}/requeue", actions.requeue)
    r.add_post("/documents/{id}/route", actions.route)
    pages.add_routes(r)
    r.add_static("/static", HERE / "static", append_version=False)
    app.router.add_get(PREFIX, _home)  # before the sub-application, which would answer 404
    app.add_subapp(PREFIX, console)
    return console


async def _home(request: web.Request) -> web.Response:
    """``/console`` without the slash."""
    return web.Response(status=303, headers={"Location": f"{PREFIX}/"})
