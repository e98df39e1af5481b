"""The Flow API's refusals: XP Z12-013's ``Error`` body, not our problem+json.

Every refusal under the Flow API's prefix (a handler's, authentication's, the body reader's,
an unknown route, an unexpected error) reaches :func:`render` through the web toolkit
(:func:`gateway.web.add_api`). ``errorCode`` is stable: the table's word for our problem code
(``mapping.toml`` ``[errors]``), else our code in upper snake case; ``errorMessage`` is our
detail. Status codes the standard does not list for these routes become 400.
"""

from __future__ import annotations

import json

from aiohttp import web

from gateway.france.flow.mapping import load_mapping
from gateway.web import Problem

#: The statuses XP Z12-013 lists for its operations (others are told as 400).
LISTED = frozenset({400, 401, 403, 404, 413, 422, 429, 500, 503})


def render(request: web.Request, problem: Problem) -> web.Response:
    code = load_mapping().error_code(problem.code)
    if problem.code == "unauthorized" and not request.headers.get("Authorization"):
        code = "MISSING_TOKEN"
    body = {
        "errorCode": code,
        "errorMessage": problem.detail,
        "type": f"urn:gateway:problem:{problem.code}",
        "instance": request.path,
    }
    status = problem.status if problem.status in LISTED else 400
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers=problem.headers,
    )


def error(status: int, code: str, message: str) -> Problem:
    """A refusal of the Flow API's own, with its XP Z12-013 ``errorCode`` as our code."""
    return Problem(status, code, message)
