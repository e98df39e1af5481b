"""Document store: SQLAlchemy models, engine/sessions, queries, migrations.

Public surface (other packages import these names from here, never the modules behind them;
``tests/web/test_toolkit_face.py`` keeps it so and ``tests/store/test_store_face.py`` checks
the names):

- engine and sessions: :class:`Database` (engine + write discipline), :class:`Base` (add your
  tables to it and chain an Alembic revision after ours), :func:`create_engine_from_settings`,
  :func:`session_factory`;
- the tables (:class:`Document`, :class:`StatusChange`, :class:`Tenant`, ...) and what their
  columns share: :data:`SeqKey`, :func:`utcnow`, :func:`new_document_id`;
- queries and writes: the :mod:`repo` namespace (``repo.get_document``,
  ``repo.create_api_key``, ``repo.NotFound``, ``repo.OPERATOR`` ...; every function takes an
  open session and nothing in it commits), content-addressed bytes (:func:`put_blob`,
  :func:`get_blob`) and :func:`insert_rows` (many rows at once);
- JSON views of rows: :func:`iso`, :func:`document_summary`, :func:`history_entry`,
  :func:`attachment_entry`, :func:`delivery_entry`;
- does a value fit its column: :class:`FieldRejected`, :func:`check_text`, :func:`check_row`,
  :func:`text_fault`, :func:`column_lengths`, :func:`clean_json`;
- across processes: :class:`Wakeups` (PostgreSQL ``NOTIFY`` sent in a committing transaction
  wakes the loops of the other processes on the database, through one ``LISTEN`` connection
  each; a no-op on SQLite);
- after a start: :func:`warm_indexes` / :func:`warm_in_background` (read the indexes every
  new document reaches at a random place, so a restarted server is not slow while its OS page
  cache fills);
- the schema: :func:`upgrade` and :func:`pending_heads` (Alembic, across every package's
  ``migrations/versions``), imported on first use: Alembic costs ~170 ms of import (on the
  shared 2-core machine) and most processes that open the store never migrate.

Statuses are not the store's business: :mod:`gateway.lifecycle` owns them and is the only
writer. The modules behind this face are not renamed ``_x`` (no other face does that); the
face test is what keeps them private.
"""

from gateway.lazy import lazy
from gateway.store import repo
from gateway.store.blobs import get_blob, put_blob
from gateway.store.bulk import insert_at_commit, insert_few, insert_rows
from gateway.store.db import Base, Database, create_engine_from_settings, session_factory
from gateway.store.fit import (
    FieldRejected,
    check_row,
    check_text,
    clean_json,
    column_lengths,
    text_fault,
)
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
    SeqKey,
    StatusChange,
    Tenant,
    WebhookDelivery,
    new_document_id,
    utcnow,
)
from gateway.store.notify import Wakeups
from gateway.store.serialize import (
    attachment_entry,
    delivery_entry,
    document_summary,
    history_entry,
    iso,
)
from gateway.store.warm import warm_in_background, warm_indexes

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
    "SeqKey",
    "StatusChange",
    "Tenant",
    "Wakeups",
    "WebhookDelivery",
    "attachment_entry",
    "check_row",
    "check_text",
    "clean_json",
    "column_lengths",
    "create_engine_from_settings",
    "delivery_entry",
    "document_summary",
    "get_blob",
    "history_entry",
    "insert_at_commit",
    "insert_few",
    "insert_rows",
    "iso",
    "new_document_id",
    "pending_heads",
    "put_blob",
    "repo",
    "session_factory",
    "text_fault",
    "upgrade",
    "utcnow",
    "warm_in_background",
    "warm_indexes",
]

# Alembic is loaded only by the processes that migrate (``serve``, ``db``, the CLI's SQLite
# commands), when they first ask for these.
__getattr__ = lazy(
    __name__, {"upgrade": "gateway.store.migrate", "pending_heads": "gateway.store.migrate"}
)
