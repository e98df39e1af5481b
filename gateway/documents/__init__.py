"""Safe XML parsing and document identification (type, profile, parties, number, totals)."""

from gateway.documents.identify import DocumentInfo, identify
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
]
