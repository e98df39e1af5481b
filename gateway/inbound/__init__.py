"""Inbound channels and the shared intake pipeline (see :mod:`gateway.inbound.intake`).

:func:`document_fields` is the one place that builds a document's stored record; the outbound
service builds its sales documents' records with it too."""

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
from gateway.lazy import lazy

__all__ = [
    "Attachment",
    "CallerGone",
    "ForwardingHook",
    "IntakePipeline",
    "IntakeRefused",
    "IntakeResult",
    "Routed",
    "RoutingRefused",
    "SmtpChannel",
    "Submission",
    "document_fields",
    "route_document",
    "route_for_participant",
]


# The SMTP channel loads aiosmtpd and the mail parsers only when a server starts it.
__getattr__ = lazy(__name__, {"SmtpChannel": "gateway.inbound.email"})
