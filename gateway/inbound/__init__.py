"""Inbound channels and the shared intake pipeline (see :mod:`gateway.inbound.intake`).

:func:`document_fields` is the one place that builds a document's stored record; the outbound
service builds its sales documents' records with it too.

:class:`DuplicateRules` / :func:`load_duplicate_rules`: which business key a document claims
(``config/duplicate-rules.toml``). :func:`fill_store`, :func:`renumber` and
:class:`FillTemplate`: capacity fills (``bench/``, the store's query-plan test) through the
intake's record builder."""

from gateway.inbound.duplicates import DuplicateRules
from gateway.inbound.duplicates import load_rules as load_duplicate_rules
from gateway.inbound.fill import Template as FillTemplate
from gateway.inbound.fill import fill as fill_store
from gateway.inbound.fill import renumber
from gateway.inbound.intake import (
    Attachment,
    CallerGone,
    ForwardingHook,
    IntakePipeline,
    IntakeRefused,
    IntakeResult,
    Submission,
    document_fields,
)
from gateway.inbound.routing import Routed, RoutingRefused, route_document, route_for_participant
from gateway.inbound.storing import Joined
from gateway.lazy import lazy

__all__ = [
    "Attachment",
    "CallerGone",
    "DuplicateRules",
    "FillTemplate",
    "ForwardingHook",
    "IntakePipeline",
    "IntakeRefused",
    "IntakeResult",
    "Joined",
    "Routed",
    "RoutingRefused",
    "SmtpChannel",
    "Submission",
    "document_fields",
    "fill_store",
    "load_duplicate_rules",
    "renumber",
    "route_document",
    "route_for_participant",
]


# The SMTP channel loads aiosmtpd and the mail parsers only when a server starts it.
__getattr__ = lazy(__name__, {"SmtpChannel": "gateway.inbound.email"})
