"""Loading a tenant's row or answering 404: one answer for "missing" and "another tenant's"."""

from __future__ import annotations

from typing import Any

from gateway.store import repo
from gateway.web.problems import Problem


def not_found(what: str, ident: str) -> Problem:
    # Same answer for "does not exist" and "belongs to another tenant": ids leak nothing.
    return Problem(404, "not-found", f"No {what} {ident}.")


async def document_or_404(
    session: Any, doc_id: str, tenant: str | None, *, for_update: bool = False
) -> Any:
    """The tenant's document (``tenant=None``: any tenant, for operators), or 404."""
    try:
        return await repo.get_document(session, doc_id, tenant, for_update=for_update)
    except repo.NotFound as exc:
        raise not_found("document", doc_id) from exc
