"""The query parameters of the sending routes, declared like every other route's.

Why: ``POST /v1/outbound`` read ``draft``, ``send_at``, ``reissue`` and ``receiver`` by hand,
so ``?draft=yes`` sent the invoice at once instead of keeping a draft, a misspelt
``?send_at`` (``?sendat=``) sent it now instead of at that time, and none of them was in the
OpenAPI description. Declared, an unknown name is 400 ``unknown-parameter`` and a bad value
400 ``invalid-parameter``, both naming the parameter, and the description is built from the
same declaration.
"""

from __future__ import annotations

from gateway.outbound.models import OutboundItem
from gateway.store import column_lengths
from gateway.web import Param, Params

MAX_RECEIVER = column_lengths(OutboundItem)["receiver"] or 300

RECEIVER = Param(
    "receiver",
    "text",
    "Receiver participant id (scheme:id); else the X-Receiver header, else the document's.",
    max_length=MAX_RECEIVER,
)
REISSUE = Param(
    "reissue",
    "bool",
    "true: send a deliberate copy of an invoice this tenant sent before (metadata.reissue_of) "
    "instead of 409 duplicate-outbound.",
    default=False,
)
#: No default: ``draft=false`` beside ``send_at`` is a contradiction the route refuses.
DRAFT = Param("draft", "bool", "true: validate and keep a draft (201), not queued.")
SEND_AT = Param(
    "send_at",
    "datetime",
    "Keep a draft and queue it at this time (ISO 8601 with a time zone, e.g. "
    "2026-12-24T08:00:00Z); implies draft=true.",
)

#: ``POST /v1/outbound``.
SUBMIT = Params(DRAFT, SEND_AT, REISSUE, RECEIVER)
#: ``PUT /v1/outbound/{id}/content`` (a draft's correction).
CONTENT = Params(RECEIVER, REISSUE)
#: ``POST /v1/outbound/{id}/send``.
SEND = Params(REISSUE)
