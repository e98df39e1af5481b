"""Inbound channels and the shared intake pipeline (see :mod:`gateway.inbound.intake`)."""

from gateway.inbound.intake import (
    Attachment,
    IntakePipeline,
    IntakeRefused,
    IntakeResult,
    Submission,
)

__all__ = ["Attachment", "IntakePipeline", "IntakeRefused", "IntakeResult", "Submission"]
