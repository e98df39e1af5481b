"""The receiver country (C4) of received Peppol documents: where it came from, and the API to
register and correct it (issue 17: C4 must come from the receiving end user's system).

At receipt the AS4 channel takes C4 from, in order, the country registered for the receiving
participant, the tenant's registered country, the buyer's address in the document, and last
``[as4] country`` (a guess); each row keeps its ``c4_source`` (see
:func:`gateway.as4.receiver_country`).

- ``PUT /v1/admin/reporting/countries`` ``{"country": "SE"[, "participant": "0088:..."]}``:
  register this tenant's country, or one of its participants'; rows whose C4 was only guessed
  or unknown take it over (``c4_source`` ``participant`` / ``tenant``).
- ``GET /v1/admin/reporting/countries``: this tenant's registered countries.
- ``GET /v1/admin/reporting/c4-unknown[?guessed=true]``: this tenant's received documents whose
  C4 is unknown (with ``guessed``: or only guessed from ``[as4] country``).
- ``PUT /v1/admin/reporting/c4/{document_id}`` ``{"country": "SE"}``: correct one document
  (``c4_source`` ``admin``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web
from sqlalchemy import func, or_, select, update

from gateway.as4 import C4_GUESSED, PeppolEndUserCountry, PeppolReportRow
from gateway.reporting.build import is_report
from gateway.store import Participant
from gateway.web import DB, OBJECT, Param, Params, Problem, operation, read_json, require

_COUNTRY = re.compile(r"^[A-Z]{2}$|^1A$")
#: ``guessed`` is a strict boolean like every other route's flags: ``?guessed=maybe`` and
#: unknown names are 400s (``invalid-parameter``, ``unknown-parameter``), not a silent false.
C4_UNKNOWN_PARAMS = Params(
    Param(
        "guessed",
        "bool",
        "Also list documents whose C4 was only guessed ([as4] country, or unknown).",
        default=False,
    ),
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/admin/reporting/c4-unknown", c4_unknown)
    app.router.add_put("/v1/admin/reporting/c4/{document_id}", set_c4)
    app.router.add_get("/v1/admin/reporting/countries", list_countries)
    app.router.add_put("/v1/admin/reporting/countries", set_country)


def _country(body: dict[str, Any]) -> str:
    country = str(body.get("country", "")).strip().upper()
    if not _COUNTRY.match(country):
        raise Problem(400, "bad-country", "country must be an ISO 3166-1 alpha-2 code")
    return country


@operation(
    "Received documents whose end user country (C4) is unknown (or only guessed)",
    tag="peppol",
    scope="admin",
    params=C4_UNKNOWN_PARAMS,
    responses={200: OBJECT},
    errors=(400,),
)
async def c4_unknown(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    guessed = C4_UNKNOWN_PARAMS.parse(request)["guessed"]
    unknown = func.length(PeppolReportRow.country_c4) != 2
    which = or_(unknown, PeppolReportRow.c4_source.in_(C4_GUESSED)) if guessed else unknown
    async with request.app[DB].read() as s:
        rows = list(
            await s.scalars(
                select(PeppolReportRow)
                .where(
                    PeppolReportRow.tenant == principal.tenant,
                    PeppolReportRow.direction == "inbound",
                    PeppolReportRow.kind == "business",
                    which,
                )
                .order_by(PeppolReportRow.seq)
                .limit(500)
            )
        )
    documents = [
        {
            "document_id": r.document_id,
            "message_id": r.message_id,
            "receiver": r.receiver,
            "exchanged_at": r.exchanged_at.isoformat(),
            "country_c4": r.country_c4,
            "c4_source": r.c4_source,
        }
        for r in rows
        if not is_report({"document_type_id": r.document_type_id})
    ]
    return web.json_response({"documents": documents, "count": len(documents)})


@operation(
    "Set a received document's C4 country",
    tag="peppol",
    scope="admin",
    responses={200: OBJECT},
    errors=(400, 404, 422),
)
async def set_c4(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    country = _country(await read_json(request))
    async with request.app[DB].write() as s:
        result = await s.execute(
            update(PeppolReportRow)
            .where(
                PeppolReportRow.document_id == request.match_info["document_id"],
                PeppolReportRow.tenant == principal.tenant,
                PeppolReportRow.direction == "inbound",
            )
            .values(country_c4=country, c4_source="admin")
        )
    if not result.rowcount:
        raise Problem(404, "not-found", "No received Peppol document with this id.")
    return web.json_response(
        {"document_id": request.match_info["document_id"], "country_c4": country}
    )


@operation(
    "The tenant's registered end user countries (the first sources of C4)",
    tag="peppol",
    scope="admin",
    responses={200: OBJECT},
)
async def list_countries(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    async with request.app[DB].read() as s:
        rows = list(
            await s.scalars(
                select(PeppolEndUserCountry)
                .where(PeppolEndUserCountry.tenant == principal.tenant)
                .order_by(PeppolEndUserCountry.participant)
            )
        )
    return web.json_response(
        {"countries": [{"participant": r.participant or None, "country": r.country} for r in rows]}
    )


@operation(
    "Register the country of the tenant or of one of its participants (C4)",
    tag="peppol",
    scope="admin",
    responses={200: OBJECT},
    errors=(400, 404, 422),
)
async def set_country(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    body = await read_json(request)
    country = _country(body)
    participant = str(body.get("participant") or "").strip().lower()
    tenant = principal.tenant
    async with request.app[DB].write() as s:
        if (
            participant
            and await s.scalar(
                select(Participant.id).where(
                    Participant.id == participant, Participant.tenant == tenant
                )
            )
            is None
        ):
            raise Problem(404, "not-found", "This tenant serves no such participant.")
        row = await s.get(PeppolEndUserCountry, (tenant, participant))
        if row is None:
            s.add(PeppolEndUserCountry(tenant=tenant, participant=participant, country=country))
        else:
            row.country, row.updated_at = country, dt.datetime.now(dt.UTC)
        # Rows whose C4 was a guess (or unknown) take the registered country over.
        target = [PeppolReportRow.tenant == tenant, PeppolReportRow.direction == "inbound"]
        if participant:
            target.append(func.lower(PeppolReportRow.receiver) == participant)
        result = await s.execute(
            update(PeppolReportRow)
            .where(*target, PeppolReportRow.c4_source.in_(C4_GUESSED))
            .values(country_c4=country, c4_source="participant" if participant else "tenant")
        )
    return web.json_response(
        {"participant": participant or None, "country": country, "updated_rows": result.rowcount}
    )
