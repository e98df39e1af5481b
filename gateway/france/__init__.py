"""France's e-invoicing reform (XP Z12-012 / XP Z12-014 1.4): lifecycle messages and rules.

Public surface:
- :func:`setup` (``gateway.france.api``): the app factory wires the CDAR service in;
- :class:`CdarService`: received CDAR messages move the sales invoices they concern, through
  :mod:`gateway.lifecycle` (source ``cdar``, role ``counterpart``);
- :func:`parse_cdar` / :class:`CdarStatus`, :func:`is_cdar`;
- :func:`load_codes` / :class:`Codes` / :class:`Code`: the French status codes as data
  (``codes.toml``: labels, emitters, mandatory codes, canonical statuses, T111 equivalents);
- :func:`conflict`: the sequencing rules;
- :func:`setup_flow_api` (``gateway.france.flow``): the AFNOR XP Z12-013 Flow API.
"""

from gateway.france.api import setup
from gateway.france.cdar import CdarStatus, is_cdar, parse_cdar
from gateway.france.codes import Code, Codes, CodesError, load_codes
from gateway.france.flow import setup as setup_flow_api
from gateway.france.models import CdarRecord
from gateway.france.rules import conflict
from gateway.france.service import CdarService

__all__ = [
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
