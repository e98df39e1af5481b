"""Peppol Reporting: TSR 1.0 and EUSR 1.1 from the rows the gateway writes, validated with the
pinned schema + Schematron, stored, and sent to OpenPeppol through the outbound queue.

Public surface: :func:`build_tsr`, :func:`build_eusr`, :func:`month_bounds`,
:class:`ReportingService` (``generate``, ``send``, ``run_schedule``, ``list``), the models
:class:`PeppolReport` and :class:`PeppolReportClaim`, the Peppol constants, and the routes'
:func:`setup` with the app key :data:`REPORTING` (the app's service).
"""

from gateway.lazy import lazy
from gateway.reporting.build import (
    EUSR_DOCUMENT_TYPE,
    REPORTING_PROCESS,
    REPORTING_RECEIVER,
    TSR_DOCUMENT_TYPE,
    build_eusr,
    build_tsr,
    missing_countries,
    month_bounds,
)
from gateway.reporting.models import PeppolReport, PeppolReportClaim
from gateway.reporting.service import KINDS, REPORTING_TENANT, ReportingService, previous_month

__all__ = [
    "EUSR_DOCUMENT_TYPE",
    "KINDS",
    "REPORTING",
    "REPORTING_PROCESS",
    "REPORTING_RECEIVER",
    "REPORTING_TENANT",
    "TSR_DOCUMENT_TYPE",
    "PeppolReport",
    "PeppolReportClaim",
    "ReportingService",
    "build_eusr",
    "build_tsr",
    "missing_countries",
    "month_bounds",
    "previous_month",
    "setup",
]


# The routes use gateway.web, which the app factory loads after the core.
__getattr__ = lazy(
    __name__, {"REPORTING": "gateway.reporting.web", "setup": "gateway.reporting.web"}
)
