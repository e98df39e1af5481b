"""The AFNOR XP Z12-013 Flow API (flow-service 1.3.0), served next to our own API.

Software written for a French platform (PA, formerly PDP) talks to the gateway at
``/afnor/flow-service/v1/...`` with a gateway API key as its bearer token.

Public surface:
- :func:`setup` (called by the app factory): the routes, the separate-API registration (the
  standard's ``Error`` body, left out of ``/v1/openapi.json``) and the webhook events;
- :func:`load_mapping` / :class:`Mapping`, :func:`flow_of`: our documents as flows
  (``mapping.toml``: syntaxes, profiles, processing rules, flow types, acknowledgements, error
  codes, as data);
- :class:`FlowEvents`, :func:`signature` / :func:`verify`: webhook callbacks (``/v1/webhooks``
  subscriptions in ``afnor_webhooks``, delivered by the forwarder, signed as the standard says);
- :data:`BASE_PATH`, :data:`PINNED_SHA256`, :func:`served`: the standard's own description.
"""

from gateway.france.flow.mapping import Mapping, flow_of, load_mapping
from gateway.france.flow.models import FlowWebhook
from gateway.france.flow.setup import setup
from gateway.france.flow.spec import BASE_PATH, FLOW_TYPES, PINNED_SHA256, served, upstream
from gateway.france.flow.webhooks import EVENT, FlowEvents, signature, verify

__all__ = [
    "BASE_PATH",
    "EVENT",
    "FLOW_TYPES",
    "PINNED_SHA256",
    "FlowEvents",
    "FlowWebhook",
    "Mapping",
    "flow_of",
    "load_mapping",
    "served",
    "setup",
    "signature",
    "upstream",
    "verify",
]
