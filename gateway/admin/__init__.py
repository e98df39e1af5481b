"""Admin-only operations (admin scope): releasing duplicates as originals."""

from gateway.admin.originals import mark_original

__all__ = ["mark_original"]
