"""Peppol dynamic discovery: receiver id -> SML (DNS) -> SMP (signed XML) -> endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import dns.asyncresolver

from gateway.outbound.discovery.cache import TtlCache
from gateway.outbound.discovery.signature import SmpTrust
from gateway.outbound.discovery.sml import (
    SML_PRESETS,
    SmlResult,
    cname_name,
    lookup_smp,
    make_resolver,
    naptr_name,
    sml_zone,
)
from gateway.outbound.discovery.smp import SmpClient
from gateway.outbound.identifiers import Identifier, participant_id
from gateway.outbound.messages import Endpoint

__all__ = [
    "SML_PRESETS",
    "Discovery",
    "SmlResult",
    "SmpClient",
    "SmpTrust",
    "TtlCache",
    "cname_name",
    "lookup_smp",
    "make_resolver",
    "naptr_name",
    "sml_zone",
]


class Discovery:
    """Looks endpoints up and caches them for ``ttl`` seconds (SML and SMP answers alike)."""

    def __init__(
        self,
        zone: str,
        resolver: dns.asyncresolver.Resolver,
        smp: SmpClient,
        ttl: float = 3600.0,
        *,
        cname_fallback: bool = False,
    ) -> None:
        self.zone = zone
        self.resolver = resolver
        self.smp = smp
        self.cname_fallback = cname_fallback
        self.sml_cache: TtlCache[SmlResult] = TtlCache(ttl)
        self.smp_cache: TtlCache[list[Endpoint]] = TtlCache(ttl)

    @classmethod
    def create(
        cls,
        session: aiohttp.ClientSession,
        *,
        zone: str,
        dns_server: str = "",
        trust_anchors: Sequence[str] = (),
        verify_signatures: bool = True,
        ttl: float = 3600.0,
        timeout: float = 15.0,
        cname_fallback: bool = False,
        allow_http: bool = False,
        revocation: Any | None = None,
    ) -> Discovery:
        """``zone``: a preset (``peppol-prod``, ``peppol-test``) or a DNS zone; 2026 rules by
        default (NAPTR only, HTTPS SMPs); ``revocation`` checks the SMP signing certificates."""
        trust = SmpTrust.from_files(trust_anchors, verify=verify_signatures)
        resolver = make_resolver(dns_server, timeout)
        smp = SmpClient(session, trust, timeout, allow_http=allow_http, revocation=revocation)
        return cls(sml_zone(zone), resolver, smp, ttl, cname_fallback=cname_fallback)

    async def locate_smp(self, pid: Identifier) -> SmlResult:
        return await self.sml_cache.get_or_load(
            pid,
            lambda: lookup_smp(
                pid,
                self.zone,
                self.resolver,
                cname_fallback=self.cname_fallback,
                allow_http=self.smp.allow_http,
            ),
        )

    async def endpoints(
        self, receiver: str, doctype: Identifier, process: Identifier | None
    ) -> list[Endpoint]:
        pid = participant_id(receiver)

        async def load() -> list[Endpoint]:
            sml = await self.locate_smp(pid)
            return await self.smp.endpoints(sml.smp_url, pid, doctype, process)

        return await self.smp_cache.get_or_load((pid, doctype, process), load)
