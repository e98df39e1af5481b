"""Logging (JSON lines by default) and shared observability helpers."""

from gateway.observability.logs import configure_logging, redact

__all__ = ["configure_logging", "redact"]
