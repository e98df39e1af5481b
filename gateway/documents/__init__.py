"""Safe XML parsing and document identification (type, profile, parties, number, totals;
a French party's SIREN)."""

from gateway.documents.identify import DocumentInfo, identify
from gateway.documents.siren import siren_of, siren_participant
from gateway.documents.xmlsafe import (
    ForbiddenConstruct,
    NotWellFormed,
    ParseLimits,
    TooLarge,
    XmlRefused,
    parse_xml,
)

__all__ = [
    "DocumentInfo",
    "ForbiddenConstruct",
    "NotWellFormed",
    "ParseLimits",
    "TooLarge",
    "XmlRefused",
    "identify",
    "parse_xml",
    "siren_of",
    "siren_participant",
]
