"""Documents: the filtered list (the API's search) and the document page (the API's view).

Both call the functions ``GET /v1/documents`` and ``GET /v1/documents/{id}`` answer with, so
the page shows what the API returns; the raw XML and attachments are served with the session
by the same functions as the API's download routes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.api import (
    DOCUMENT_FILTERS,
    attachment_file,
    document_detail,
    document_page,
    download_headers,
    known_statuses,
)
from gateway.console.guard import viewer
from gateway.console.keys import ROOT
from gateway.console.render import page
from gateway.console.sessions import Viewer
from gateway.rendering import FORMATS, LANGUAGES, document_rendering
from gateway.store import repo
from gateway.web import DB, LIFECYCLE, Param, Params, int_param, not_found

SEVERITIES = ("fatal", "error", "warning", "information")


def scope_of(v: Viewer) -> str | None:
    """The tenant a document must belong to: the viewer's, or any for an operator."""
    return None if v.is_operator else v.key_tenant


async def list_page(request: web.Request) -> web.Response:
    v = viewer(request)
    filters = DOCUMENT_FILTERS.parse(request)
    async with request.config_dict[DB].read() as s:
        result = await document_page(s, v.tenant, filters, lifecycle=request.config_dict[LIFECYCLE])
    query = {k: val for k, val in request.query.items() if k != "cursor" and val}
    nxt = result["next_cursor"]
    return page(
        request,
        "documents.html",
        {
            "items": result["items"],
            "query": query,
            "statuses": known_statuses(),
            "next_url": f"?{urlencode({**query, 'cursor': nxt})}" if nxt else None,
            "first_url": f"?{urlencode(query)}" if filters["cursor"] else None,
        },
    )


def report_view(validation: dict[str, Any]) -> dict[str, Any]:
    """Summary counts by severity first, then findings grouped by rule (worst first)."""
    findings = validation.get("findings") or []
    counts = Counter(f.get("severity", "error") for f in findings)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        groups[f.get("rule") or "(no rule)"].append(f)

    def worst(item: tuple[str, list[dict[str, Any]]]) -> tuple[int, str]:
        sev = min(
            (
                SEVERITIES.index(f.get("severity"))
                for f in item[1]
                if f.get("severity") in SEVERITIES
            ),
            default=len(SEVERITIES),
        )
        return sev, item[0]

    return {
        "counts": [(s, counts.get(s, 0)) for s in SEVERITIES],
        "groups": sorted(groups.items(), key=worst),
        "total": len(findings),
    }


async def detail(request: web.Request) -> web.Response:
    v = viewer(request)
    doc_id = request.match_info["id"]
    async with request.config_dict[DB].read() as s:
        body = await document_detail(request.app[ROOT], s, doc_id, scope_of(v))
        original = None
        if body.get("duplicate_of"):
            original = await _summary(request, s, body["duplicate_of"], v)
    return page(
        request,
        "document.html",
        {
            "d": body,
            "report": report_view(body.get("validation") or {}),
            "original": original,
            "actions": actions_for(v, body),
        },
    )


async def _summary(request: web.Request, s: Any, doc_id: str, v: Viewer) -> dict[str, Any] | None:
    try:
        return await document_detail(request.app[ROOT], s, doc_id, scope_of(v))
    except Exception:  # the original may be gone from view (another tenant's): show none
        return None


def actions_for(v: Viewer, d: dict[str, Any]) -> dict[str, Any]:
    """What the "⋯" menu offers for this document, given its status and the viewer."""
    if not v.can_act:
        return {}
    status = d.get("canonical_status") or d["status"]
    out: dict[str, Any] = {}
    if status == "duplicate":
        out["mark_original"] = True
    if d.get("next_statuses"):
        out["statuses"] = d["next_statuses"]
    if d["direction"] == "outbound" and status == "failed":
        out["requeue"] = True
    if d.get("deliveries"):
        out["redeliver"] = [x for x in d["deliveries"] if x["state"] in ("failed", "delivered")]
    if v.is_operator and d.get("tenant") is None:
        out["route"] = True
    return out


#: The readable invoice runs KoSIT's own viewer script in an opaque origin: it reaches neither
#: the console's cookies nor its pages, loads nothing, and only the console may frame it.
RENDERING_CSP = (
    "sandbox allow-scripts allow-downloads; default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
RENDERING_PARAMS = Params(
    Param("format", "choice", "html or pdf.", default="html", choices=FORMATS),
    Param("lang", "choice", "de or en.", default="de", choices=LANGUAGES),
)


async def rendering(request: web.Request) -> web.Response:
    """The readable invoice (``gateway.rendering``, as ``GET /v1/documents/{id}/rendering``)."""
    v = viewer(request)
    q = RENDERING_PARAMS.parse(request)
    found = await document_rendering(
        request.app[ROOT], scope_of(v), request.match_info["id"], q["format"], q["lang"]
    )
    if found.content_type == "text/html":
        headers = {
            "Content-Security-Policy": RENDERING_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Content-Disposition": "inline",
        }
        return web.Response(
            body=found.body, content_type="text/html", charset="utf-8", headers=headers
        )
    headers = download_headers(found.filename)
    return web.Response(body=found.body, content_type=found.content_type, headers=headers)


async def raw(request: web.Request) -> web.Response:
    v = viewer(request)
    doc_id = request.match_info["id"]
    async with request.config_dict[DB].read() as s:
        try:
            data, ctype = await repo.get_raw(s, doc_id, scope_of(v))
        except repo.NotFound as exc:
            raise not_found("document", doc_id) from exc
    headers = download_headers(f"{doc_id}.xml")
    return web.Response(body=data, content_type=ctype, headers=headers)


async def attachment(request: web.Request) -> web.Response:
    v = viewer(request)
    index = int_param(request.match_info["n"], "n")
    async with request.config_dict[DB].read() as s:
        data, ctype, name = await attachment_file(
            s, request.match_info["id"], scope_of(v), index=index
        )
    return web.Response(body=data, content_type=ctype, headers=download_headers(name))
