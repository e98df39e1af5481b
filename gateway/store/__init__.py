"""Document store: SQLAlchemy models, engine/sessions, migrations, repository functions.

Public surface for other concerns: :class:`Base` (add your tables to it and chain an Alembic
revision after ours), :func:`create_engine_from_settings`, :func:`session_factory`,
:class:`Database` (engine + write discipline), the models and ``repo`` functions. Statuses are
not the store's business: :mod:`gateway.lifecycle` owns them and is the only writer.
"""

from gateway.store.db import Base, Database, create_engine_from_settings, session_factory
from gateway.store.models import (
    ApiKey,
    Attachment,
    DeliveryAttempt,
    Document,
    DocumentClaim,
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
    "Database",
    "DeliveryAttempt",
    "Document",
    "DocumentClaim",
    "InboxItem",
    "Participant",
    "StatusChange",
    "Tenant",
    "WebhookDelivery",
    "create_engine_from_settings",
    "session_factory",
]
