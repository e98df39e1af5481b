"""Admin operations: releasing duplicates (admin scope); routing stranded documents (operator)."""

from gateway.admin.originals import mark_original
from gateway.admin.routing import list_unrouted, route

__all__ = ["list_unrouted", "mark_original", "route"]
