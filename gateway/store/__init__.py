"""Document store: SQLAlchemy models, engine/sessions, migrations, repository functions.

Public surface for other concerns: :class:`Base` (add your tables to it and chain an Alembic
revision after ours), :func:`create_engine_from_settings`, :func:`session_factory`,
:class:`Database` (engine + write discipline), the models, ``repo`` functions and the status
models in :mod:`gateway.store.statuses`.
"""

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
from gateway.store.statuses import IllegalTransition, StatusModel, model_for, register_model

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
    "IllegalTransition",
    "InboundMessage",
    "InboxItem",
    "Participant",
    "StatusChange",
    "StatusModel",
    "Tenant",
    "WebhookDelivery",
    "check_row",
    "check_text",
    "clean_json",
    "create_engine_from_settings",
    "model_for",
    "register_model",
    "session_factory",
    "text_fault",
]
