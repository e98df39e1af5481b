"""Administration: the management functions shared by the CLI, the API and the console, and
the admin routes (releasing duplicates, routing stranded documents, ``/v1/admin/...``).

Management functions (each takes an open session, or the :class:`~gateway.store.Database` for
the webhook test, and raises :class:`Refused` with an HTTP status and a problem code):

- tenants: :func:`list_tenants`, :func:`create_tenant`, :func:`show_tenant`,
  :func:`delete_tenant` (only a tenant that never had documents), :func:`get_tenant`;
- participant ids: :func:`add_participant` (routes the stranded documents addressed to it),
  :func:`list_participants`, :func:`remove_participant`;
- API keys: :func:`create_key` (:class:`NewKey`: the secret once), :func:`list_keys` (no
  secrets), :func:`revoke_key`;
- webhooks: :func:`set_webhook` (URL, secret, event types; the secret once),
  :func:`clear_webhook`, :func:`probe_webhook` (a signed test event, now), :func:`redeliver`,
  :func:`vet_destination` (no loopback/private/metadata destinations unless allowed),
  :func:`known_events`, :func:`webhook_view`;
- settings: :func:`get_settings`, :func:`put_settings` (status profiles, webhook bodies).

Documents: :func:`release_duplicate` (mark as original) and :func:`route_stranded` (give a
stranded document to a tenant), shared by their routes and the console.

Routes: :func:`setup_admin` mounts the management API; :func:`mark_original`, :func:`route`
and :func:`list_unrouted` are handlers mounted by the document API.
"""

from gateway.admin.errors import Refused
from gateway.admin.keys import NewKey, create_key, key_view, list_keys, revoke_key
from gateway.admin.originals import mark_original, release_duplicate
from gateway.admin.participants import (
    Added,
    add_participant,
    list_participants,
    remove_participant,
)
from gateway.admin.routes import setup_admin
from gateway.admin.routing import list_unrouted, route, route_stranded
from gateway.admin.settings import get_settings, put_settings
from gateway.admin.tenants import (
    create_tenant,
    delete_tenant,
    get_tenant,
    list_tenants,
    show_tenant,
)
from gateway.admin.webhooks import (
    clear_webhook,
    known_events,
    probe_webhook,
    redeliver,
    set_webhook,
    vet_destination,
    webhook_view,
)

__all__ = [
    "Added",
    "NewKey",
    "Refused",
    "add_participant",
    "clear_webhook",
    "create_key",
    "create_tenant",
    "delete_tenant",
    "get_settings",
    "get_tenant",
    "key_view",
    "known_events",
    "list_keys",
    "list_participants",
    "list_tenants",
    "list_unrouted",
    "mark_original",
    "probe_webhook",
    "put_settings",
    "redeliver",
    "release_duplicate",
    "remove_participant",
    "revoke_key",
    "route",
    "route_stranded",
    "set_webhook",
    "setup_admin",
    "show_tenant",
    "vet_destination",
    "webhook_view",
]
