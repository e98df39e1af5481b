"""Logging (JSON lines by default) and shared observability helpers."""

from gateway.observability.logs import configure_logging, redact
from gateway.observability.metrics import Metrics, gauge

__all__ = ["Metrics", "configure_logging", "gauge", "redact"]
