"""Errors of the AS4 layer: ebMS error signals (receiver side) and typed send failures.

Receiver side: every refusal is an :class:`EbmsError` carrying the ebMS 3.0 error code, so the
answer to the sending access point is always a proper ``eb:Error`` signal, never a stack trace.

Sender side: :class:`As4TransientError` and :class:`As4PermanentError` let the outbound queue
decide between "retry later" and "fail for good" without knowing anything about AS4.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Code:
    code: str
    short: str
    category: str


_CODES = {
    "EBMS:0003": _Code("EBMS:0003", "ValueInconsistent", "Content"),
    "EBMS:0004": _Code("EBMS:0004", "Other", "Content"),
    "EBMS:0007": _Code("EBMS:0007", "MimeInconsistency", "Unpackaging"),
    "EBMS:0009": _Code("EBMS:0009", "InvalidHeader", "Unpackaging"),
    "EBMS:0010": _Code("EBMS:0010", "ProcessingModeMismatch", "Processing"),
    "EBMS:0011": _Code("EBMS:0011", "ExternalPayloadError", "Content"),
    "EBMS:0101": _Code("EBMS:0101", "FailedAuthentication", "Processing"),
    "EBMS:0102": _Code("EBMS:0102", "FailedDecryption", "Processing"),
    "EBMS:0103": _Code("EBMS:0103", "PolicyNoncompliance", "Processing"),
    "EBMS:0303": _Code("EBMS:0303", "DecompressionFailure", "Communication"),
}

#: Peppol AS4 profile: an unknown final recipient is EBMS:0004 with this exact ErrorDetail.
NOT_SERVICED = "PEPPOL:NOT_SERVICED"


class EbmsError(Exception):
    """A refusal of an inbound message, answered with an ``eb:Error`` signal."""

    def __init__(
        self, code: str, detail: str, *, severity: str = "failure", http_status: int = 200
    ) -> None:
        super().__init__(f"{code}: {detail}")
        info = _CODES[code]
        self.code = code
        self.short_description = info.short
        self.category = info.category
        self.detail = detail
        self.severity = severity
        #: ebMS errors are protocol answers (HTTP 200) unless the request itself was unacceptable.
        self.http_status = http_status


def failed_authentication(detail: str) -> EbmsError:
    return EbmsError("EBMS:0101", detail)


def failed_decryption(detail: str = "could not decrypt the payload") -> EbmsError:
    # One detail for every cause: distinguishable decryption failures are an oracle.
    return EbmsError("EBMS:0102", detail)


def invalid_header(detail: str) -> EbmsError:
    return EbmsError("EBMS:0009", detail)


def not_serviced() -> EbmsError:
    return EbmsError("EBMS:0004", NOT_SERVICED)


class RecipientNotServiced(Exception):
    """Raised by the intake (``deliver``) when no tenant serves the final recipient."""


class As4SendError(Exception):
    """Base of send failures; ``ebms_code`` is set when the receiver answered with an error."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        ebms_code: str | None = None,
        detail: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.ebms_code = ebms_code
        self.detail = detail
        self.http_status = http_status


class As4TransientError(As4SendError):
    """Worth retrying later: network trouble, 5xx, temporary refusals, unverifiable receipts."""

    transient = True


class As4PermanentError(As4SendError):
    """Retrying cannot help: the receiver refused the message for good (e.g. NOT_SERVICED)."""


class ReceiptInvalid(As4TransientError):
    """The answer was not a receipt we can prove delivery with (bad signature, wrong digests)."""
