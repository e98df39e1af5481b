"""Where webhooks may go: to public addresses only, unless the operator allows private ones.

Why: a tenant admin names the webhook URL, and the gateway POSTs to it from inside the
operator's network (deliveries, redeliveries, and ``POST .../webhook/test`` at once). Without a
check that is a server-side request forgery: ``http://169.254.169.254/`` (cloud metadata),
``http://127.0.0.1:5432/``, or the operator's internal services. So by default a destination
whose host is, or resolves to, a loopback, private, link-local (metadata), carrier-grade NAT,
multicast, reserved or otherwise not globally routable address is refused:

- when the URL is set (API, CLI, console): IP literals and ``localhost`` names at once, names by
  resolving them (a name that does not resolve yet is accepted; delivery checks it again);
- when anything is sent (test event, every delivery attempt): IP literals before connecting,
  names inside the HTTP client's resolver (:class:`GuardedResolver`), so the address checked is
  the address connected to and a name that re-binds to an internal address after it was set
  (DNS rebinding) is refused then.

``[webhooks] allow_private_destinations = true`` turns the address checks off, for on-premise
setups whose receivers live on the private network (and for tests with loopback receivers).

Redirects are never followed, with or without the guard (``post_signed`` asks for none): one
could point inside, and a followed 301/302/303 turns the POST into a body-less GET that the next
server may answer 200, which recorded an event as delivered that no one received. A 3xx is an
error like any other non-2xx answer, and retried.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

REFUSED_CODE = "webhook-destination-refused"
#: How long resolving a name may take when a URL is set (delivery uses the client's timeout).
RESOLVE_TIMEOUT = 3.0


class DestinationRefused(OSError):
    """A webhook destination that is not a public address (an ``OSError`` so that the HTTP
    client reports it like any connection failure: ``ClientConnectorError``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(errno.EACCES, detail)
        self.detail = detail


def not_public(address: str) -> str | None:
    """What kind of address ``address`` (an IP address) is when it is no public destination
    (e.g. ``"a loopback address"``); None when it is one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (
        ("a loopback address", ip.is_loopback),
        ("a link-local address (cloud metadata endpoints live there)", ip.is_link_local),
        ("the unspecified address", ip.is_unspecified),
        ("a multicast address", ip.is_multicast),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
        ("not a globally routable address", not ip.is_global),
    ):
        if test:
            return kind
    return None


def resolved_to(host: str, address: str) -> str | None:
    """Why ``host`` may not be connected to at ``address`` (None: it may)."""
    kind = not_public(address)
    return None if kind is None else f"{host} resolves to {address}, {kind}"


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        raise DestinationRefused(f"the URL {url!r} names no host")
    return host


def _literal(host: str) -> str | None:
    """Why ``host`` is refused without resolving it (an IP literal or a ``localhost`` name)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        name = host.rstrip(".").lower()
        if name == "localhost" or name.endswith(".localhost"):
            return f"{host} is a loopback name"
        return None
    kind = not_public(host)
    return None if kind is None else f"{host} is {kind}"


def _refusal(url: str, why: str) -> DestinationRefused:
    return DestinationRefused(
        f"The webhook destination {url} is refused: {why}. Webhooks go to public addresses only "
        "unless [webhooks] allow_private_destinations = true (on-premise receivers)."
    )


def check_literal(url: str) -> None:
    """Refuse an IP-literal or ``localhost`` destination (before any connection is made)."""
    if why := _literal(_host(url)):
        raise _refusal(url, why)


async def check_destination(url: str, *, resolve: bool = True) -> None:
    """Refuse ``url`` when its host is, or resolves to, an address that is not public
    (:class:`DestinationRefused`). ``mailto:`` URLs are not network destinations."""
    if url.lower().startswith("mailto:"):
        return
    check_literal(url)
    host = _host(url)
    if not resolve or _is_ip(host):
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return  # not resolvable now: every delivery checks what it resolves to then
    for info in infos:
        if why := resolved_to(host, str(info[4][0])):
            raise _refusal(url, why)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class GuardedResolver(AbstractResolver):
    """The HTTP client's resolver for webhooks: refuses a name that resolves to any address
    that is not public, at connection time."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            if why := resolved_to(host, entry["host"]):
                raise DestinationRefused(f"webhook destination refused: {why}")
        return found

    async def close(self) -> None:
        await self._inner.close()


def webhook_session(timeout: float, *, allow_private: bool) -> aiohttp.ClientSession:
    """The HTTP client webhooks are sent with (guarded unless ``allow_private``)."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    if allow_private:
        return aiohttp.ClientSession(timeout=client_timeout)
    connector = aiohttp.TCPConnector(resolver=GuardedResolver())
    return aiohttp.ClientSession(timeout=client_timeout, connector=connector)
