"""The inbound channel plug-in interface: built from settings, started and stopped with the
app, health reported; every channel feeds the one intake (or the outbound queue).

The app factory builds each registered factory's channels while the app is assembled (so a
channel can mount routes), starts them after everything they feed (store, validator, intake,
forwarding, outbound queue) and stops them first, in reverse order, at shutdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from gateway.config import Settings
from gateway.store import Database


@runtime_checkable
class Channel(Protocol):
    #: Stable name for health and logs ("rest", "smtp", "as4", "folder:/srv/acme/in", ...).
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> str:
        """``ok``, ``stopped`` or ``error: <why>`` (anything but ``ok`` degrades /health)."""
        ...


@dataclass
class ChannelContext:
    """What a channel factory may use: the app (to mount routes) and the shared services."""

    app: web.Application
    settings: Settings
    db: Database
    intake: Any
    outbound: Any


#: Builds the channels of one kind from settings (none when that kind is not configured).
ChannelFactory = Callable[[ChannelContext], list[Channel]]


class ChannelRegistry:
    """Kind name -> factory, in start order. The root (``gateway.server.wiring``) fills it."""

    def __init__(self, factories: dict[str, ChannelFactory] | None = None) -> None:
        self._factories: dict[str, ChannelFactory] = dict(factories or {})

    def register(self, kind: str, factory: ChannelFactory) -> None:
        self._factories[kind] = factory

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def build(self, ctx: ChannelContext) -> list[Channel]:
        return [channel for factory in self._factories.values() for channel in factory(ctx)]


class StaticChannel:
    """A channel that is only routes on the app (REST, AS4): nothing to start of its own."""

    def __init__(self, name: str, on_stop: Callable[[], Any] | None = None) -> None:
        self.name = name
        self._on_stop = on_stop
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        if self._on_stop is not None:
            result = self._on_stop()
            if hasattr(result, "__await__"):
                await result

    def health(self) -> str:
        return "ok" if self._running else "stopped"
