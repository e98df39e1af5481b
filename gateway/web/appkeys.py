"""Typed keys of the aiohttp application (what the app factory puts in ``app[...]``).

Other channels reach the shared intake pipeline with ``app[INTAKE]`` (the pipeline is also
stored under the plain string key ``"intake"`` for code written before these keys existed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gateway.config import Settings
from gateway.forwarding import Forwarder
from gateway.inbound import IntakePipeline
from gateway.lifecycle import Lifecycle
from gateway.observability import Metrics
from gateway.store import Database
from gateway.web.keycache import KeyCache

if TYPE_CHECKING:  # the outbound package's routes use this toolkit, so no import at run time
    from gateway.outbound import OutboundService

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
INTAKE = web.AppKey("intake", IntakePipeline)
FORWARDER = web.AppKey("forwarder", Forwarder)
METRICS = web.AppKey("metrics", Metrics)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
KEY_CACHE = web.AppKey("key_cache", KeyCache)
#: The outbound service (``gateway.outbound.setup`` puts it; also on the outbound face).
OUTBOUND: web.AppKey[OutboundService] = web.AppKey("outbound")
