"""The transport plug-in interface: one coroutine, two exceptions.

Everything protocol-specific (HTTP headers, AS4 envelopes, receipts) lives behind
``send``; the queue only learns "delivered" (a :class:`DeliveryResult`), "try again"
(:class:`TransientError`) or "give up" (:class:`PermanentError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from gateway.outbound.errors import PermanentError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage


@runtime_checkable
class Transport(Protocol):
    #: Plug-in name used by routes and the SMP profile map ("http", "as4", ...).
    name: str

    async def send(self, item: OutboundMessage, endpoint: Endpoint) -> DeliveryResult:
        """Deliver ``item`` to ``endpoint``; raise TransientError / PermanentError otherwise."""
        ...

    async def aclose(self) -> None: ...


class Transports:
    """Name -> transport. Registration order is the preference order for SMP endpoints."""

    def __init__(self, transports: Iterable[Transport] = ()) -> None:
        self._by_name: dict[str, Transport] = {}
        for transport in transports:
            self.register(transport)

    def register(self, transport: Transport) -> None:
        self._by_name[transport.name] = transport

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def get(self, name: str) -> Transport:
        try:
            return self._by_name[name]
        except KeyError:
            raise PermanentError(
                f"no transport plug-in named {name!r} (have: {', '.join(self._by_name)})",
                "no-transport",
            ) from None

    async def aclose(self) -> None:
        for transport in self._by_name.values():
            await transport.aclose()
