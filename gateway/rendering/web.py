"""``GET /v1/documents/{id}/rendering?format=html|pdf&lang=de|en`` and the console's entry point.

The HTML is KoSIT's viewer page (inline styles and scripts, no external resources). It is
served with a CSP ``sandbox`` so its scripts run in an opaque origin: whatever an invoice
carries can never read the API's cookies or call the API as the viewer.
"""

from __future__ import annotations

from aiohttp import web

from gateway.documents import ParseLimits
from gateway.rendering.visualization import FORMATS, LANGUAGES, NotRenderable, Renderer, Rendering
from gateway.store import repo
from gateway.web import DB, SETTINGS, Content, Param, Params, Problem, operation, require

RENDERER = web.AppKey("renderer", Renderer)

HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; sandbox allow-scripts allow-downloads allow-popups"
)


def setup(app: web.Application) -> Renderer:
    settings = app[SETTINGS]
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    renderer = app[RENDERER] = Renderer(settings.artefacts_dir, limits)
    app.router.add_get("/v1/documents/{id}/rendering", get_rendering)
    return renderer


async def document_rendering(
    app: web.Application, tenant: str, doc_id: str, fmt: str = "html", lang: str = "de"
) -> Rendering:
    """The rendering of one of ``tenant``'s documents (for the console's document page).

    Raises :class:`Problem` (404 unknown or another tenant's, 400 bad format/lang, 415/422 not
    renderable, 503 stylesheets missing).
    """
    if fmt not in FORMATS:
        raise Problem(400, "bad-parameter", f"format must be one of {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise Problem(400, "bad-parameter", f"lang must be one of {', '.join(LANGUAGES)}")
    async with app[DB].read() as s:
        try:
            raw, _ctype = await repo.get_raw(s, doc_id, tenant)
        except repo.NotFound as exc:
            raise Problem(404, "not-found", f"No document {doc_id}.") from exc
    try:
        return await app[RENDERER].render(raw, fmt, lang)
    except NotRenderable as exc:
        raise Problem(exc.http_status, exc.code, exc.detail) from exc


RENDERING_PARAMS = Params(
    Param(
        "format", "choice", "html (KoSIT's viewer page) or pdf.", default="html", choices=FORMATS
    ),
    Param("lang", "choice", "Labels: de or en.", default="de", choices=LANGUAGES),
)


@operation(
    "The invoice as people read it (KoSIT XRechnung visualization, HTML or PDF)",
    tag="documents",
    scope="read",
    params=RENDERING_PARAMS,
    responses={
        200: (Content("text/html", {"type": "string"}), Content("application/pdf", {})),
    },
    errors=(400, 404, 415, 422, 503),
)
async def get_rendering(request: web.Request) -> web.Response:
    principal = require(request, "read")
    q = RENDERING_PARAMS.parse(request)
    rendering = await document_rendering(
        request.app, principal.tenant, request.match_info["id"], q["format"], q["lang"]
    )
    headers = {
        "Content-Disposition": f'inline; filename="{rendering.filename}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
    }
    if rendering.content_type == "text/html":
        headers["Content-Security-Policy"] = HTML_CSP
        return web.Response(
            body=rendering.body, content_type="text/html", charset="utf-8", headers=headers
        )
    return web.Response(body=rendering.body, content_type=rendering.content_type, headers=headers)
