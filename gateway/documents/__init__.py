"""Safe XML parsing and document identification (type, profile, parties, number, totals;
a French party's SIREN; the invoice XML inside a Factur-X / ZUGFeRD PDF)."""

from gateway.documents.identify import NS, UBL_APPRESPONSE, DocumentInfo, Party, identify
from gateway.documents.pdf import (
    PDF_MAGIC,
    EmbeddedFile,
    PdfUnreadable,
    embedded_files,
    invoice_xml,
)
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
    "NS",
    "PDF_MAGIC",
    "UBL_APPRESPONSE",
    "DocumentInfo",
    "EmbeddedFile",
    "ForbiddenConstruct",
    "NotWellFormed",
    "ParseLimits",
    "Party",
    "PdfUnreadable",
    "TooLarge",
    "XmlRefused",
    "embedded_files",
    "identify",
    "invoice_xml",
    "parse_xml",
    "siren_of",
    "siren_participant",
]
