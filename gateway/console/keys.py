"""Typed keys of the console sub-application and of its requests."""

from __future__ import annotations

from aiohttp import web

from gateway.console.sessions import Viewer

#: The gateway's own application (the console is a sub-application under ``/console``):
#: functions of other packages that take the app get this one.
ROOT = web.AppKey("console_root", web.Application)
VIEWER = web.RequestKey("console_viewer", Viewer)
#: The session cookie's token of the request (to end or touch the session).
TOKEN = web.RequestKey("console_token", str)
#: Tenant names for an operator's tenant switch (read with the session).
TENANTS = web.RequestKey("console_tenants", list)

COOKIE = "gw_console"
#: Before sign-in: a random value in this cookie and in the sign-in form (double submit).
PRE_COOKIE = "gw_console_signin"
PREFIX = "/console"
