"""The destination guard against real sockets: which addresses are no public destination, and
the webhook HTTP client refusing, at connection time, a name that resolves inside."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway.forwarding import (
    DestinationRefused,
    check_destination,
    not_public,
    post_signed,
    webhook_session,
)
from tests.hook_receiver import hook_receiver, internal_name


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is unwrapped first
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00:ec2::254", "private"),  # AWS's IPv6 metadata address (ULA)
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "not a globally routable"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_addresses_that_are_no_public_destination(address: str, kind: str) -> None:
    found = not_public(address)
    assert found is not None and kind in found, found


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert not_public(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/x",
        "http://localhost:9000/",
        "http://api.localhost/",
        "http://[::ffff:7f00:1]/",
        "http://user:pw@127.0.0.1/",
    ],
)
async def test_internal_urls_are_refused_with_the_reason(url: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        await check_destination(url)
    assert "allow_private_destinations" in refused.value.detail


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    name = internal_name()
    with pytest.raises(DestinationRefused) as refused:
        await check_destination(f"http://{name}:8080/hook")
    assert f"{name} resolves to" in refused.value.detail


async def test_names_that_do_not_resolve_yet_and_mailto_pass_when_set() -> None:
    await check_destination("https://hooks.invalid/x")  # delivery checks it again
    await check_destination("mailto:ap@acme.example")


async def test_the_webhook_client_refuses_at_connection_time(aiohttp_server: Any) -> None:
    """The resolver check, not the URL check: what a name resolves to *when the request is
    made* decides (a name that re-binds to an internal address gets nothing)."""
    hook = await hook_receiver(aiohttp_server)
    url = hook.url.replace("127.0.0.1", "localhost")  # a name, so the resolver is asked
    async with webhook_session(5, allow_private=False) as http:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            async with http.post(url, data=b"{}"):
                pass
    assert "resolves to 127.0.0.1" in str(refused.value) and hook.got == []
    # The same receiver is reached once private destinations are allowed.
    async with webhook_session(5, allow_private=True) as http, http.post(url, data=b"{}") as resp:
        assert resp.status == 204
    assert hook.got == [b"{}"]


async def test_a_signed_post_to_an_ip_literal_inside_is_never_sent(aiohttp_server: Any) -> None:
    hook = await hook_receiver(aiohttp_server)
    async with webhook_session(5, allow_private=False) as http:
        result = await post_signed(http, hook.url, b"{}", secret="s" * 16, event="x", headers={})
    assert result.status is None and "127.0.0.1 is a loopback address" in (result.error or "")
    assert hook.got == []
