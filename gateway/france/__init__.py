"""France's e-invoicing reform (XP Z12-012 / XP Z12-014 1.4): lifecycle messages and rules.

Public surface:
- :func:`setup` (``gateway.france.api``): the app factory wires the CDAR service in;
  :data:`CDAR_EMITTER` is the app's emitter (its ``outbox``: the CDAR owed);
- :class:`CdarService`: received CDAR messages move the sales invoices they concern, through
  :mod:`gateway.lifecycle` (source ``cdar``, role ``counterpart``);
- :func:`parse_cdar` / :class:`CdarStatus`, :func:`is_cdar`;
- :func:`load_codes` / :class:`Codes` / :class:`Code`: the French status codes as data
  (``codes.toml``: labels, emitters, mandatory codes, canonical statuses, T111 equivalents);
- :func:`conflict`: the sequencing rules;
- :class:`CdarOutbox` / :class:`CdarOwed`: the CDAR owed by a move, written in its transaction
  and paid after the commit or by the recovery pass after a crash;
- :func:`setup_flow_api` (``gateway.france.flow``): the AFNOR XP Z12-013 Flow API.
"""

from gateway.france.api import CDAR_EMITTER, setup
from gateway.france.cdar import CdarStatus, is_cdar, parse_cdar
from gateway.france.codes import Code, Codes, CodesError, load_codes
from gateway.france.flow import setup as setup_flow_api
from gateway.france.models import CdarOwed, CdarRecord
from gateway.france.owed import CdarOutbox
from gateway.france.rules import conflict
from gateway.france.service import CdarService

__all__ = [
    "CDAR_EMITTER",
    "CdarOutbox",
    "CdarOwed",
    "CdarRecord",
    "CdarService",
    "CdarStatus",
    "Code",
    "Codes",
    "CodesError",
    "conflict",
    "is_cdar",
    "load_codes",
    "parse_cdar",
    "setup",
    "setup_flow_api",
]
