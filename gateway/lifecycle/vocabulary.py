"""The canonical status names and roles: the words every other package uses for statuses.

Code outside the lifecycle never writes a status; it names one of these when it asks the
lifecycle to move a document (or, in the one place that builds a new record, to begin one).
The models in ``models/*.toml`` say which moves between them are allowed and by whom.
"""

from __future__ import annotations

# --- roles: who asks for a move (a transition lists the roles that may make it) ---------------
SYSTEM = "system"  # the gateway itself: intake, forwarding, the queue, timers
API = "api"  # a client with an API key (the tenant's own workflow)
ADMIN = "admin"  # a key with the admin scope (admin implies api)
COUNTERPART = "counterpart"  # the other party, by a message: Invoice Response, MLS, CDAR
ROLES = (SYSTEM, API, ADMIN, COUNTERPART)

# --- inbound (purchase) documents --------------------------------------------------------------
RECEIVED = "received"
INVALID = "invalid"
DUPLICATE = "duplicate"
UNROUTABLE = "unroutable"
FORWARDED = "forwarded"

# --- outbound (sales) documents ----------------------------------------------------------------
DRAFT = "draft"
QUEUED = "queued"
SENDING = "sending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERED_TO_RECIPIENT = "delivered_to_recipient"
REJECTED_BY_RECIPIENT = "rejected_by_recipient"
DELETED = "deleted"
#: Statuses the outbound queue owns: while a document is in one of them the queue moves it.
IN_FLIGHT = (QUEUED, SENDING, RETRYING)

# --- sources: the history's "from what" (counterpart sources are generic message kinds) --------
SOURCE_INVOICE_RESPONSE = "invoice-response"
SOURCE_MLS = "mls"
SOURCE_CDAR = "cdar"  # France's lifecycle messages (gateway.france)
#: Peppol Invoice Response (T111) codes (UNCL4343 subset), in their sequencing order.
RESPONSE_CODES = ("AB", "IP", "UQ", "CA", "RE", "AP", "PD")
COUNTERPART_SOURCES = (SOURCE_INVOICE_RESPONSE, SOURCE_MLS, SOURCE_CDAR)
