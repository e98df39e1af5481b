"""Peppol Invoice Responses (T111): received responses move sales-invoice statuses; status
changes of purchase invoices can send responses.

Public surface:
- :class:`ResponseService` (``handle_document``, ``sweep``, ``on_intake`` hook) and
  :class:`Emitter` (``on_move`` owes a response in the move's transaction, its ``outbox``
  pays it: :mod:`gateway.owed`; :class:`ResponseOwed` is the table), wired into the app by
  ``gateway.responses.api.setup`` (the app's emitter: :data:`EMITTER`);
- :func:`load_mapping` / :class:`Mapping` (``config/invoice-response-mapping.toml``);
- :func:`conflict` / :class:`Step` (sequencing rules; the lifecycle moves the invoice);
- :func:`parse_response`, :func:`build_response` / :class:`ResponseContent`;
- :func:`judge` / :class:`Verdict`, :func:`proof_of`, :func:`cause_of_proof`, :func:`actor_of`,
  :func:`wrong_access_point`: whether a channel proves a counterpart message's sender (also
  used for France's CDAR messages);
- the counterpart-status store and service both rule sets (T111 here, CDAR in
  :mod:`gateway.france`) share: :class:`CounterpartColumns` and the states (``APPLIED``,
  ``HELD``, ...; :mod:`gateway.responses.records`), :class:`CounterpartService` and
  :class:`Match` (:mod:`gateway.responses.counterpart`), and their list route's parameters
  and page (:func:`counterpart_filters`, :func:`counterpart_listing`);
- :func:`follow_outbound` / :func:`keep_sent` / :data:`SENT_STATE_OF`: a sent message's row
  follows its outbound item (Invoice Responses and France's CDAR).
"""

from gateway.lazy import lazy
from gateway.responses.build import ResponseContent, build_response
from gateway.responses.counterpart import CounterpartService, Match
from gateway.responses.emit import Emitter, set_emission
from gateway.responses.follow import SENT_STATE_OF, follow_outbound, keep_sent
from gateway.responses.listing import filters as counterpart_filters
from gateway.responses.listing import listing as counterpart_listing
from gateway.responses.mapping import Mapping, MappingError, load_mapping
from gateway.responses.models import InvoiceResponseRecord, ResponseOwed, ResponseSettings
from gateway.responses.parse import SCENARIO, InvoiceResponse, parse_response
from gateway.responses.pending import attach
from gateway.responses.records import (
    APPLIED,
    CONFLICT,
    DUPLICATE,
    HELD,
    INVALID,
    NOTED,
    PENDING,
    RECEIVED,
    REFUSED,
    SENT,
    UNMATCHED,
    WAITING,
    CounterpartColumns,
)
from gateway.responses.rules import Step, conflict
from gateway.responses.service import NotHeld, ResponseService
from gateway.responses.trust import (
    Verdict,
    actor_of,
    cause_of_proof,
    judge,
    proof_of,
    wrong_access_point,
)

__all__ = [
    "APPLIED",
    "CONFLICT",
    "DUPLICATE",
    "EMITTER",
    "HELD",
    "INVALID",
    "NOTED",
    "PENDING",
    "RECEIVED",
    "REFUSED",
    "RESPONSES",
    "SCENARIO",
    "SENT",
    "SENT_STATE_OF",
    "UNMATCHED",
    "WAITING",
    "CounterpartColumns",
    "CounterpartService",
    "Emitter",
    "InvoiceResponse",
    "InvoiceResponseRecord",
    "Mapping",
    "MappingError",
    "Match",
    "NotHeld",
    "ResponseContent",
    "ResponseOwed",
    "ResponseService",
    "ResponseSettings",
    "Step",
    "Verdict",
    "actor_of",
    "attach",
    "build_response",
    "cause_of_proof",
    "conflict",
    "counterpart_filters",
    "counterpart_listing",
    "follow_outbound",
    "judge",
    "keep_sent",
    "load_mapping",
    "parse_response",
    "proof_of",
    "response_entry",
    "set_emission",
    "setup",
    "wrong_access_point",
]


# The routes (setup, the EMITTER and RESPONSES app keys, response_entry) use gateway.web, whose import
# chain reaches this package's core.
__getattr__ = lazy(
    __name__,
    {name: "gateway.responses.api" for name in ("setup", "EMITTER", "RESPONSES", "response_entry")},
)
