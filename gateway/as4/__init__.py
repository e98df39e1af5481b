"""Peppol AS4 (eDelivery AS4 profile): SBDH, signed+encrypted UserMessages over SwA, NRR
receipts, ebMS error signals, trust, duplicate elimination, MLS.

Public surface (everything else is internal):

- :class:`As4Receiver` (``await handle(body, content_type) -> (status, headers, body)``)
- :class:`As4Sender` (``await send(url, receiver_cert, sbd, message_id=...) -> Receipt``)
- :class:`Identity`, :class:`TrustStore`, :class:`As4Limits`, :class:`SeenStore`, :class:`MemorySeenStore`
- SBDH: :class:`Sbdh`, :func:`wrap_sbdh`, :func:`unwrap_sbdh`, :func:`parse_business_document`
- MLS: :class:`MlsStatus`, :class:`MlsIssue`, :func:`build_mls`, :func:`parse_mls`, :func:`mls_wanted`, :func:`mls_sbdh`
- errors: :class:`EbmsError`, :class:`RecipientNotServiced`, :class:`As4SendError`,
  :class:`As4TransientError`, :class:`As4PermanentError`, :class:`ReceiptInvalid`
- the gateway's AS4 state in the store: :class:`DbSeenStore` (duplicate elimination and the
  receipt, written in the intake's transaction), the tables (:class:`As4Outbound`, ...),
  :class:`MlsOutbox`, :class:`MlsResponder` / :class:`MlsConsumer`, the Peppol reporting rows
  (:func:`report_row`, :func:`export_rows`, :func:`summarise`, :func:`countries`);
- :func:`configured` (is ``[as4]`` on) and :func:`as4_handler` (the aiohttp handler).

The adapters that plug this library into the gateway live with the other channels and
transports: :mod:`gateway.channels.as4` (``POST /as4``) and
:mod:`gateway.outbound.transports.as4` (the ``as4`` transport). Nothing outside this package
imports its modules; ``tests/web/test_toolkit_face.py`` keeps it so.
"""

from gateway.as4.config import configured
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
from gateway.as4.http import as4_handler
from gateway.as4.identity import Identity, common_name, load_certificates
from gateway.as4.message import OutboundMessage, build_user_message
from gateway.as4.mls import CUSTOMIZATION_ID as MLS_CUSTOMIZATION_ID
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
from gateway.as4.mls_flow import MlsConsumer, MlsRefused, MlsResponder
from gateway.as4.mls_outbox import MlsOutbox
from gateway.as4.models import (
    As4InboundInstance,
    As4InboundMessage,
    As4MlsOutbox,
    As4Outbound,
    PeppolEndUserCountry,
    PeppolReportRow,
)
from gateway.as4.receipt import Receipt, Signal, parse_signal, verify_receipt
from gateway.as4.receiver import As4Limits, As4Receiver, Deliver, InboundMeta
from gateway.as4.reporting import (
    C4_GUESSED,
    C4_SOURCES,
    countries,
    parse_when,
    receiver_country,
    registered_country,
    report_row,
    report_values,
    summarise,
)
from gateway.as4.reporting import COLUMNS as REPORT_COLUMNS
from gateway.as4.reporting import export as export_rows
from gateway.as4.sbdh import Sbdh, SbdhError, parse_business_document
from gateway.as4.sbdh import read_header as read_sbdh_header
from gateway.as4.sbdh import unwrap as unwrap_sbdh
from gateway.as4.sbdh import wrap as wrap_sbdh
from gateway.as4.seen_db import AlreadyDelivered, Claim, DbSeenStore
from gateway.as4.sender import As4Sender
from gateway.as4.store import MemorySeenStore, SeenStore
from gateway.as4.trust import RevocationCheck, TrustStore, UntrustedCertificate

__all__ = [
    "C4_GUESSED",
    "C4_SOURCES",
    "MLS_CUSTOMIZATION_ID",
    "NOT_SERVICED",
    "REPORT_COLUMNS",
    "AlreadyDelivered",
    "As4InboundInstance",
    "As4InboundMessage",
    "As4Limits",
    "As4MlsOutbox",
    "As4Outbound",
    "As4PermanentError",
    "As4Receiver",
    "As4SendError",
    "As4Sender",
    "As4TransientError",
    "Claim",
    "DbSeenStore",
    "Deliver",
    "EbmsError",
    "Identity",
    "InboundMeta",
    "MemorySeenStore",
    "MlsConsumer",
    "MlsError",
    "MlsIssue",
    "MlsOutbox",
    "MlsRefused",
    "MlsResponder",
    "MlsStatus",
    "OutboundMessage",
    "PeppolEndUserCountry",
    "PeppolReportRow",
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
    "as4_handler",
    "build_mls",
    "build_user_message",
    "common_name",
    "configured",
    "countries",
    "export_rows",
    "is_mls",
    "load_certificates",
    "mls_sbdh",
    "mls_wanted",
    "new_message_id",
    "outbound_state",
    "parse_business_document",
    "parse_mls",
    "parse_signal",
    "parse_when",
    "read_sbdh_header",
    "receiver_country",
    "registered_country",
    "report_row",
    "report_values",
    "spis_id",
    "summarise",
    "unwrap_sbdh",
    "verify_receipt",
    "wrap_sbdh",
]
