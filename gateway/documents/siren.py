"""A French company's SIREN from what a document says about it.

French documents name companies by SIREN (9 digits): as the legal id (scheme 0002), as the
electronic address (scheme 0225, sometimes with a suffix such as ``100000009_STATUTS``), or
inside the French VAT number (``FR`` + 2-digit key + SIREN). The first that fits wins.
"""

from __future__ import annotations

import re
from typing import Any

SIREN = re.compile(r"\d{9}")
PARTICIPANT_SCHEME = "0225"


def siren_of(party: Any) -> str | None:
    """``party``: a :class:`gateway.documents.DocumentInfo` party or its ``to_dict()`` form."""
    get = party.get if isinstance(party, dict) else lambda k: getattr(party, k, None)
    legal = (get("legal_id") or "").strip()
    if SIREN.fullmatch(legal):
        return legal
    scheme, _, ident = (get("endpoint") or "").partition(":")
    if scheme == PARTICIPANT_SCHEME and (m := re.match(r"(\d{9})(?:\D|$)", ident)):
        return m.group(1)
    vat = (get("vat_id") or "").strip().upper()
    if re.fullmatch(r"FR[0-9A-Z]{2}\d{9}", vat):
        return vat[4:]
    return None


def siren_participant(siren: str | None) -> str | None:
    """The participant id a SIREN speaks as (``0225:<SIREN>``)."""
    return f"{PARTICIPANT_SCHEME}:{siren}" if siren else None
