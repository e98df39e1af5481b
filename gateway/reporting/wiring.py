"""Building a :class:`ReportingService` from settings, for the CLI and the app."""

from __future__ import annotations

from typing import Any

from cryptography import x509

from gateway.as4 import common_name, configured
from gateway.reporting.service import ReportingService
from gateway.store import Database


def reporter_id(as4: Any) -> str:
    """Our seat id (``[as4] party_id``, else the CN of our AP certificate)."""
    if as4.party_id:
        return str(as4.party_id)
    if as4.cert_file:
        with open(as4.cert_file, "rb") as fh:
            return common_name(x509.load_pem_x509_certificate(fh.read()))
    raise ValueError("Peppol reporting needs [as4] party_id or cert_file (our seat id)")


class EngineValidator:
    """The validation pool in process (``jobs=0``): one long-lived validation thread.

    Why not ``asyncio.to_thread(engine.validate)``: SaxonC attaches every thread that touches it
    to its isolate, and threads that come and go crashed the interpreter (see
    ``gateway.validation``'s Saxon runtime); the pool's own thread is the supported way.
    """

    def __init__(self, settings: Any) -> None:
        from gateway.documents import ParseLimits
        from gateway.validation import Validator

        limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
        self.validator = Validator(settings.artefacts_dir, jobs=0, limits=limits, warm=False)

    async def validate(self, raw: bytes, scenario: str | None = None) -> Any:
        return await self.validator.validate(raw, scenario)


async def reporting_service(
    settings: Any, db: Database, *, with_outbound: bool = False
) -> tuple[ReportingService, Any | None]:
    """The service and (``with_outbound``, AS4 configured) the started-less outbound service
    that carries reports; the caller closes the latter."""
    validator = EngineValidator(settings)
    outbound = None
    if with_outbound:
        if not configured(settings.as4):
            raise ValueError("--send needs [as4] (reports travel over Peppol AS4)")
        from gateway.outbound import OutboundService

        outbound = OutboundService(settings, db, validator)
    service = ReportingService(db, reporter_id(settings.as4), validator.validate, outbound)
    return service, outbound
