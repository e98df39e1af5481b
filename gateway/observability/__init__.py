"""Logging (JSON lines by default), Prometheus metrics and the /metrics endpoint."""

from gateway.lazy import lazy
from gateway.observability.httplog import handler_args
from gateway.observability.logs import JsonFormatter, configure_logging, redact
from gateway.observability.metrics import BoundedLabel, Metrics, Snapshot, SnapshotRows
from gateway.observability.statuslog import log_status_change

__all__ = [
    "BoundedLabel",
    "JsonFormatter",
    "Metrics",
    "Snapshot",
    "SnapshotRows",
    "configure_logging",
    "handler_args",
    "log_status_change",
    "metrics_endpoint",
    "redact",
]


# The endpoint uses gateway.web, whose app keys name Metrics from this package.
__getattr__ = lazy(__name__, {"metrics_endpoint": "gateway.observability.endpoint"})
