"""The Flow API's own OpenAPI description: AFNOR's, served as published, with our server URL.

The description is AFNOR's file (XP Z12-013 flow-service 1.3.0, not kept in this repository):
``[france] flow_openapi`` names it, and it is served only when its sha256 is the pinned one
(as every artefact is). What changes in the served copy: ``servers`` (this gateway's URL), the
bearer scheme's description (a gateway API key, not a JWT), the OAuth2 scheme's token URL (ours,
:mod:`gateway.france.flow.oauth`), and ``ReasonCode``'s ``oneOf`` made the ``anyOf`` it means
(see :func:`served`). The enumerations the handlers check are kept here (they are
the standard's; a test compares them with the file).
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

PINNED_SHA256 = "219295f100d23b4eb4482752426f736690788ff5472b653a97757c77d53ffc0b"
BASE_PATH = "/afnor/flow-service"
TOKEN_PATH = f"{BASE_PATH}/oauth2/token"

FLOW_TYPES = (
    "CustomerInvoice",
    "SupplierInvoice",
    "CustomerInvoiceLC",
    "SupplierInvoiceLC",
    "StateCustomerInvoiceLC",
    "StateSupplierInvoiceLC",
    "AggregatedCustomerTransactionReport",
    "UnitaryCustomerTransactionReport",
    "AggregatedCustomerPaymentReport",
    "UnitaryCustomerPaymentReport",
    "UnitarySupplierTransactionReport",
    "MultiFlowReport",
    "StateCustomerInvoice",
    "StateSupplierInvoice",
    "StateTransactionReport",
    "StateTransactionReportLC",
    "StatePaymentReport",
    "StatePaymentReportLC",
    "Undefined",
)


class DescriptionMissing(Exception):
    """No usable AFNOR description (not configured, unreadable, or not the pinned file)."""


@cache
def _load(path: str) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DescriptionMissing(f"[france] flow_openapi cannot be read: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != PINNED_SHA256:
        raise DescriptionMissing(
            f"[france] flow_openapi is not the pinned XP Z12-013 flow-service 1.3.0 "
            f"(sha256 {digest}, pinned {PINNED_SHA256})"
        )
    return json.loads(data)


def upstream(path: str) -> dict[str, Any]:
    """AFNOR's description as published (checked against the pinned sha256)."""
    if not path:
        raise DescriptionMissing(
            "set [france] flow_openapi to AFNOR's xp-z12-013-flow-service-1.3.0.openapi.json"
        )
    return _load(path)


def served(path: str, base_url: str) -> dict[str, Any]:
    doc = copy.deepcopy(upstream(path))
    doc["servers"] = [{"url": base_url + BASE_PATH, "description": "einvoice-gateway"}]
    schemes = doc.get("components", {}).get("securitySchemes", {})
    oauth = schemes.get("OAuth2", {}).get("flows", {}).get("clientCredentials")
    if oauth is not None:  # the client id/secret pair is a gateway key (gateway.france.flow.oauth)
        oauth["tokenUrl"] = base_url + TOKEN_PATH
        schemes["OAuth2"]["description"] = (
            "Client credentials: client id gw_<id> and the secret of a gateway key; the token "
            "answered is the key itself (valid until the key is revoked)."
        )
    if "BearerAuth" in schemes:
        schemes["BearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A gateway API key (gateway keys create): scope submit to submit "
            "flows, read to search and download them and to manage webhooks.",
        }
    # ReasonCode is "oneOf: [the enum, any string]": a value of the enum matches both, so a
    # strict validator refuses exactly the codes the standard defines. Served as anyOf (what
    # the text says: "a predefined set of reason code values + ability to extend this set").
    reason = doc["components"]["schemas"].get("ReasonCode", {})
    if "oneOf" in reason:
        reason["anyOf"] = reason.pop("oneOf")
    return doc


def enum(path: str, schema: str) -> list[str]:
    return list(upstream(path)["components"]["schemas"][schema]["enum"])
