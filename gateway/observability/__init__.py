"""Logging (JSON lines by default), Prometheus metrics and the /metrics endpoint."""

from typing import Any

from gateway.observability.httplog import handler_args
from gateway.observability.logs import configure_logging, redact
from gateway.observability.metrics import BoundedLabel, Metrics, Snapshot, SnapshotRows
from gateway.observability.statuslog import log_status_change

__all__ = [
    "BoundedLabel",
    "Metrics",
    "Snapshot",
    "SnapshotRows",
    "configure_logging",
    "handler_args",
    "log_status_change",
    "metrics_endpoint",
    "redact",
]


def __getattr__(name: str) -> Any:
    # Lazy: the endpoint uses gateway.web, whose app keys name Metrics from this package.
    if name == "metrics_endpoint":
        from gateway.observability.endpoint import metrics_endpoint

        return metrics_endpoint
    raise AttributeError(name)
