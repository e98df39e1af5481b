"""The list routes of counterpart statuses (``GET /v1/admin/responses``, ``/v1/france/cdar``).

Both take the toolkit's declared query parameters (:class:`gateway.web.Params`): ``state`` (the
rule set's states), ``direction`` (``received`` | ``sent``), ``cursor`` and ``limit`` (1-200).
An unknown name is ``unknown-parameter`` and a bad value ``invalid-parameter``, naming the
parameter, like every other list route (they were ``bad-request`` before, and a limit over 200
was cut to 200 silently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from gateway.responses.counterpart import CounterpartService
from gateway.responses.records import RECEIVED, SENT
from gateway.web import Param, Params, cursor, limit

MAX_PAGE = 200


def filters(states: Iterable[str]) -> Params:
    return Params(
        cursor(),
        limit(50, MAX_PAGE),
        Param("state", "choice", "Only messages in this state.", choices=tuple(states)),
        Param("direction", "choice", "received or sent.", choices=(RECEIVED, SENT)),
    )


async def listing(
    request: web.Request,
    tenant: str,
    service: CounterpartService,
    params: Params,
    entry: Callable[[Any], dict[str, Any]],
) -> web.Response:
    """One cursor page of ``tenant``'s rows as ``{"items": [...], "next_cursor": ...}``."""
    f = params.parse(request)
    rows = await service.page(
        tenant, state=f["state"], direction=f["direction"], after=f["cursor"], limit=f["limit"]
    )
    return web.json_response(
        {
            "items": [entry(r) for r in rows],
            "next_cursor": str(rows[-1].seq) if len(rows) == f["limit"] else None,
        }
    )
