"""Peppol dynamic discovery: receiver id -> SML (DNS) -> SMP (signed XML) -> endpoints."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
import dns.asyncresolver

from gateway.outbound.discovery.cache import TtlCache
from gateway.outbound.discovery.signature import SmpTrust
from gateway.outbound.discovery.sml import (
    SmlResult,
    cname_name,
    lookup_smp,
    make_resolver,
    naptr_name,
)
from gateway.outbound.discovery.smp import SmpClient
from gateway.outbound.identifiers import Identifier, participant_id
from gateway.outbound.messages import Endpoint

__all__ = [
    "Discovery",
    "SmlResult",
    "SmpClient",
    "SmpTrust",
    "TtlCache",
    "cname_name",
    "lookup_smp",
    "make_resolver",
    "naptr_name",
]


class Discovery:
    """Looks endpoints up and caches them for ``ttl`` seconds (SML and SMP answers alike)."""

    def __init__(
        self,
        zone: str,
        resolver: dns.asyncresolver.Resolver,
        smp: SmpClient,
        ttl: float = 3600.0,
    ) -> None:
        self.zone = zone
        self.resolver = resolver
        self.smp = smp
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
    ) -> Discovery:
        trust = SmpTrust.from_files(trust_anchors, verify=verify_signatures)
        resolver = make_resolver(dns_server, timeout)
        return cls(zone, resolver, SmpClient(session, trust, timeout), ttl)

    async def locate_smp(self, pid: Identifier) -> SmlResult:
        return await self.sml_cache.get_or_load(
            pid, lambda: lookup_smp(pid, self.zone, self.resolver)
        )

    async def endpoints(
        self, receiver: str, doctype: Identifier, process: Identifier | None
    ) -> list[Endpoint]:
        pid = participant_id(receiver)

        async def load() -> list[Endpoint]:
            sml = await self.locate_smp(pid)
            return await self.smp.endpoints(sml.smp_url, pid, doctype, process)

        return await self.smp_cache.get_or_load((pid, doctype, process), load)
