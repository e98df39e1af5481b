"""Peppol AS4 (eDelivery AS4 profile): SBDH, signed+encrypted UserMessages over SwA, NRR
receipts, ebMS error signals, trust, duplicate elimination, MLS.

Public surface (everything else is internal):

- :class:`As4Receiver` (``await handle(body, content_type) -> (status, headers, body)``)
- :class:`As4Sender` (``await send(url, receiver_cert, sbd, message_id=...) -> Receipt``)
- :class:`Identity`, :class:`TrustStore`, :class:`As4Limits`, :class:`SeenStore`, :class:`MemorySeenStore`
- SBDH: :class:`Sbdh`, :func:`wrap_sbdh`, :func:`unwrap_sbdh`
- MLS: :class:`MlsStatus`, :class:`MlsIssue`, :func:`build_mls`, :func:`parse_mls`, :func:`mls_wanted`, :func:`mls_sbdh`
- errors: :class:`EbmsError`, :class:`RecipientNotServiced`, :class:`As4SendError`,
  :class:`As4TransientError`, :class:`As4PermanentError`, :class:`ReceiptInvalid`
"""

from gateway.as4.envelope import new_message_id
from gateway.as4.errors import (
    NOT_SERVICED,
    As4PermanentError,
    As4SendError,
    As4TransientError,
    EbmsError,
    ReceiptInvalid,
    RecipientNotServiced,
)
from gateway.as4.identity import Identity, load_certificates
from gateway.as4.message import OutboundMessage, build_user_message
from gateway.as4.mls import (
    MlsError,
    MlsIssue,
    MlsStatus,
    build_mls,
    is_mls,
    mls_sbdh,
    mls_wanted,
    outbound_state,
    parse_mls,
    spis_id,
)
from gateway.as4.receipt import Receipt, Signal, parse_signal, verify_receipt
from gateway.as4.receiver import As4Limits, As4Receiver, Deliver, InboundMeta
from gateway.as4.sbdh import Sbdh, SbdhError
from gateway.as4.sbdh import unwrap as unwrap_sbdh
from gateway.as4.sbdh import wrap as wrap_sbdh
from gateway.as4.sender import As4Sender
from gateway.as4.store import MemorySeenStore, SeenStore
from gateway.as4.trust import RevocationCheck, TrustStore, UntrustedCertificate

__all__ = [
    "NOT_SERVICED",
    "As4Limits",
    "As4PermanentError",
    "As4Receiver",
    "As4SendError",
    "As4Sender",
    "As4TransientError",
    "Deliver",
    "EbmsError",
    "Identity",
    "InboundMeta",
    "MemorySeenStore",
    "MlsError",
    "MlsIssue",
    "MlsStatus",
    "OutboundMessage",
    "Receipt",
    "ReceiptInvalid",
    "RecipientNotServiced",
    "RevocationCheck",
    "Sbdh",
    "SbdhError",
    "SeenStore",
    "Signal",
    "TrustStore",
    "UntrustedCertificate",
    "build_mls",
    "build_user_message",
    "is_mls",
    "load_certificates",
    "mls_sbdh",
    "mls_wanted",
    "new_message_id",
    "outbound_state",
    "parse_mls",
    "parse_signal",
    "spis_id",
    "unwrap_sbdh",
    "verify_receipt",
    "wrap_sbdh",
]
