"""Peppol identifiers: participant, document type and process ids as SML/SMP expect them.

Documents carry the receiver as ``EndpointID schemeID="0088"`` (identify() turns that into
``"0088:123"``); the network addresses it as ``iso6523-actorid-upis::0088:123``. The document
type id is derived from the root element and CustomizationID exactly as the Peppol Policy for
use of Identifiers prescribes, so the SMP lookup asks for precisely what the document is.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.documents import DocumentInfo

PARTICIPANT_SCHEME = "iso6523-actorid-upis"
#: Longest participant identifier value (``0088:...``; Peppol Policy for use of Identifiers,
#: 2026: 130 characters). Every column that holds one is String(300).
MAX_PARTICIPANT_ID = 130
DOCTYPE_SCHEME = "busdox-docid-qns"
PROCESS_SCHEME = "cenbii-procid-ubl"

_SYNTAX_VERSION = {"ubl": "2.1", "cii": "D16B", "cdar": "D22B"}


@dataclass(frozen=True)
class Identifier:
    scheme: str
    value: str

    def __str__(self) -> str:
        return f"{self.scheme}::{self.value}"


def participant_id(text: str) -> Identifier:
    """Parse ``0088:123`` or ``iso6523-actorid-upis::0088:123``; participant ids are
    case-insensitive, so the value is normalised to lower case."""
    text = text.strip()
    if "::" in text:
        scheme, value = text.split("::", 1)
    else:
        scheme, value = PARTICIPANT_SCHEME, text
    if not value or ":" not in value:
        raise ValueError(f"not a participant id (want SCHEME:ID): {text!r}")
    if len(value.strip()) > MAX_PARTICIPANT_ID:
        raise ValueError(
            f"participant id is {len(value.strip())} characters; Peppol allows "
            f"{MAX_PARTICIPANT_ID}: {text[:40]!r}..."
        )
    return Identifier(scheme.strip().lower(), value.strip().lower())


def document_type_id(info: DocumentInfo) -> Identifier | None:
    """``<root ns>::<root name>##<customization id>::<syntax version>`` or None when unknown."""
    version = _SYNTAX_VERSION.get(info.syntax)
    if not (version and info.customization_id):
        return None
    value = f"{info.root_namespace}::{info.root_name}##{info.customization_id}::{version}"
    return Identifier(DOCTYPE_SCHEME, value)


def process_id(info: DocumentInfo) -> Identifier | None:
    return Identifier(PROCESS_SCHEME, info.profile_id) if info.profile_id else None
