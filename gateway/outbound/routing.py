"""Routing: static ``[[routes]]`` first, then Peppol dynamic discovery.

Static rules exist for partners outside Peppol, test receivers and overrides; they are
matched case-insensitively with shell-style patterns (``0204:*``, ``0088:5790000435975``,
``*``) in configuration order, first match wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from gateway.config import Route
from gateway.outbound.discovery import Discovery
from gateway.outbound.errors import PermanentError
from gateway.outbound.identifiers import Identifier
from gateway.outbound.messages import Endpoint, OutboundMessage
from gateway.outbound.transports import Transports

#: Electronic address scheme (EAS) code of an e-mail address.
EMAIL_SCHEME = "EM"


def _ident(text: str) -> Identifier | None:
    if not text or "::" not in text:
        return None
    scheme, value = text.split("::", 1)
    return Identifier(scheme, value)


def _bare(receiver: str) -> str:
    """``iso6523-actorid-upis::0088:1`` -> ``0088:1`` so patterns need no scheme prefix."""
    return receiver.split("::", 1)[1] if "::" in receiver else receiver


class Router:
    def __init__(
        self, routes: Sequence[Route], transports: Transports, discovery: Discovery | None = None
    ) -> None:
        self.routes = list(routes)
        self.transports = transports
        self.discovery = discovery

    def static_route(self, receiver: str) -> Route | None:
        bare = _bare(receiver).lower()
        for route in self.routes:
            if fnmatchcase(bare, route.participant.strip().lower()):
                return route
        return None

    async def resolve(self, item: OutboundMessage) -> Endpoint:
        route = self.static_route(item.receiver)
        if route is not None:
            return Endpoint(
                url=f"mailto:{route.to}" if route.transport == "email" and route.to else route.url,
                transport=route.transport,
                certificate=route.certificate,
                party_id=route.party_id,
                source="static",
            )
        scheme, _, address = _bare(item.receiver).partition(":")
        if scheme.upper() == EMAIL_SCHEME:
            # The buyer's electronic address is an e-mail address (EAS code EM): mail it.
            if "email" not in self.transports:
                raise PermanentError(
                    f"{item.receiver} is an e-mail address and [email_out] is not configured",
                    "no-transport",
                )
            return Endpoint(url=f"mailto:{address}", transport="email", source="buyer-address")
        if self.discovery is None:
            raise PermanentError(
                f"no static route matches {item.receiver} and dynamic discovery is off", "no-route"
            )
        doctype = _ident(item.document_type)
        if doctype is None:
            raise PermanentError(
                "document type unknown (no CustomizationID); cannot look up the receiver",
                "no-document-type",
            )
        endpoints = await self.discovery.endpoints(item.receiver, doctype, _ident(item.process))
        for name in self.transports:
            for endpoint in endpoints:
                if endpoint.transport == name:
                    return endpoint
        profiles = ", ".join(sorted({e.profile or e.transport for e in endpoints}))
        raise PermanentError(
            f"receiver {item.receiver} publishes only {profiles}; no transport plug-in for it",
            "no-transport",
        )
