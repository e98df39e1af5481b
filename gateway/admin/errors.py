"""The one refusal of the management functions, shared by the CLI, the API and the console.

A :class:`Refused` carries an HTTP status and a stable problem ``code`` so the API answers
problem+json and the CLI prints the same sentence; the functions never know who called them.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A management request that cannot be done (``http_status``/``code``; ``str()`` says why)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.http_status = status
        self.code = code
        self.detail = detail
        #: More fields for the problem+json answer (e.g. the known profile ids).
        self.extra = extra


def not_found(what: str, ident: str) -> Refused:
    """Same answer for "missing" and "another tenant's", so ids and names leak nothing."""
    return Refused(404, "not-found", f"No {what} {ident}.")


def invalid(code: str, detail: str) -> Refused:
    return Refused(422, code, detail)
