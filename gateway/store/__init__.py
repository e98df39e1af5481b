"""Document store: SQLAlchemy models, engine/sessions, migrations, repository functions.

Public surface for other concerns: :class:`Base` (add your tables to it and chain an Alembic
revision after ours), :func:`create_engine_from_settings`, :func:`session_factory`,
:class:`Database` (engine + write discipline), the models and ``repo`` functions. Statuses are
not the store's business: :mod:`gateway.lifecycle` owns them and is the only writer.
"""

from gateway.store.bulk import insert_rows
from gateway.store.db import Base, Database, create_engine_from_settings, session_factory
from gateway.store.fit import FieldRejected, check_row, check_text, clean_json, text_fault
from gateway.store.models import (
    ApiKey,
    Attachment,
    Blob,
    DeliveryAttempt,
    Document,
    DocumentClaim,
    InboundMessage,
    InboxItem,
    Participant,
    StatusChange,
    Tenant,
    WebhookDelivery,
)

__all__ = [
    "ApiKey",
    "Attachment",
    "Base",
    "Blob",
    "Database",
    "DeliveryAttempt",
    "Document",
    "DocumentClaim",
    "FieldRejected",
    "InboundMessage",
    "InboxItem",
    "Participant",
    "StatusChange",
    "Tenant",
    "WebhookDelivery",
    "check_row",
    "check_text",
    "clean_json",
    "create_engine_from_settings",
    "insert_rows",
    "session_factory",
    "text_fault",
]
