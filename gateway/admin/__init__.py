"""Admin operations: releasing duplicates (admin scope); routing stranded documents (operator)."""

from gateway.admin.originals import mark_original, release_duplicate
from gateway.admin.routing import list_unrouted, route, route_stranded

__all__ = ["list_unrouted", "mark_original", "release_duplicate", "route", "route_stranded"]
