"""The document lifecycle: the one owner of every document status.

- :class:`Lifecycle` (held per app, ``app[LIFECYCLE]``): the canonical status models loaded
  from ``models/*.toml`` (per direction and document family), and the only code that writes
  ``documents.status``: :meth:`~Lifecycle.begin` (a new record's first status),
  :meth:`~Lifecycle.move`, :meth:`~Lifecycle.move_many` (the queue's batches) and
  :meth:`~Lifecycle.note`. Each writes the history row (source, tenant, key, actor, reason),
  runs the in-transaction listeners, queues the webhook event and counts the metric.
- :class:`Cause`: who asks (source, role, tenant, key, actor); :class:`Moved`: what listeners get.
- :class:`StatusModel`, :class:`IllegalTransition` / :class:`NoWorkflow` (refusals with the
  model's exact sentence and a problem code).
- The vocabulary: canonical status names and roles (:mod:`gateway.lifecycle.vocabulary`).
- Profiles (:mod:`gateway.lifecycle.profile`, ``profiles/*.toml``): each platform's names,
  client moves and refusal sentences over the canonical statuses, selected per tenant.
- Payments (:mod:`gateway.lifecycle.payments`): amounts recorded against sales invoices.
- Overdue (:mod:`gateway.lifecycle.overdue`): a condition, never a status; one notice (history
  note + ``document.overdue`` event) per overdue episode; :func:`run_overdue_timer`.

Counterpart statuses (Invoice Responses, MLS, later CDAR) are moves with role ``counterpart``;
their own sequencing rules live with their message kind and ask the lifecycle to move.
"""

from gateway.lifecycle import credits, overdue, payments, vocabulary
from gateway.lifecycle.cause import BulkMove, Cause, Moved
from gateway.lifecycle.model import (
    STATUS_CHANGED,
    IllegalTransition,
    ModelError,
    Models,
    NoWorkflow,
    StatusModel,
    family_of,
    load_model,
    parse_model,
)
from gateway.lifecycle.mover import (
    EventSink,
    Lifecycle,
    MoveListener,
    MoveObserver,
    event_data,
)
from gateway.lifecycle.overdue import EVENT as OVERDUE_EVENT
from gateway.lifecycle.overdue import run_timer as run_overdue_timer
from gateway.lifecycle.profile import ResponseRule
from gateway.lifecycle.tables import OutboundDraft
from gateway.lifecycle.vocabulary import (
    ADMIN,
    API,
    COUNTERPART,
    DELETED,
    DELIVERED,
    DELIVERED_TO_RECIPIENT,
    DRAFT,
    DUPLICATE,
    FAILED,
    FORWARDED,
    IN_FLIGHT,
    INVALID,
    QUEUED,
    RECEIVED,
    REJECTED_BY_RECIPIENT,
    RESPONSE_CODES,
    RETRYING,
    SENDING,
    SOURCE_CDAR,
    SOURCE_INVOICE_RESPONSE,
    SOURCE_MLS,
    SYSTEM,
    UNROUTABLE,
)

__all__ = [
    "ADMIN",
    "API",
    "COUNTERPART",
    "DELETED",
    "DELIVERED",
    "DELIVERED_TO_RECIPIENT",
    "DRAFT",
    "DUPLICATE",
    "FAILED",
    "FORWARDED",
    "INVALID",
    "IN_FLIGHT",
    "OVERDUE_EVENT",
    "QUEUED",
    "RECEIVED",
    "REJECTED_BY_RECIPIENT",
    "RESPONSE_CODES",
    "RETRYING",
    "SENDING",
    "SOURCE_CDAR",
    "SOURCE_INVOICE_RESPONSE",
    "SOURCE_MLS",
    "STATUS_CHANGED",
    "SYSTEM",
    "UNROUTABLE",
    "BulkMove",
    "Cause",
    "EventSink",
    "IllegalTransition",
    "Lifecycle",
    "ModelError",
    "Models",
    "MoveListener",
    "MoveObserver",
    "Moved",
    "NoWorkflow",
    "OutboundDraft",
    "ResponseRule",
    "StatusModel",
    "credits",
    "event_data",
    "family_of",
    "load_model",
    "overdue",
    "parse_model",
    "payments",
    "run_overdue_timer",
    "vocabulary",
]
