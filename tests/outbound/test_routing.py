"""Where the ``email`` transport sends: the route's ``to``, else the buyer's EM address."""

from __future__ import annotations

import pytest

from gateway.config import Route
from gateway.outbound import HttpTransport, OutboundMessage, PermanentError, Transports
from gateway.outbound.routing import Router


class _Email:
    name = "email"

    async def send(self, item, endpoint):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")

    async def aclose(self) -> None:
        return None


def _msg(receiver: str) -> OutboundMessage:
    return OutboundMessage("d1", "m1@gw", b"<x/>", "0088:1", receiver, "", "")


async def test_route_to_wins_then_the_buyer_address() -> None:
    transports = Transports([HttpTransport(), _Email()])
    routes = [Route(participant="em:*@big.example", transport="email", to="ap@big.example")]
    router = Router(routes, transports)
    routed = await router.resolve(_msg("iso6523-actorid-upis::em:buyer@big.example"))
    assert (routed.transport, routed.url, routed.source) == (
        "email",
        "mailto:ap@big.example",
        "static",
    )
    direct = await router.resolve(_msg("iso6523-actorid-upis::em:buyer@info.de"))
    assert (direct.transport, direct.url) == ("email", "mailto:buyer@info.de")


async def test_em_receiver_without_email_transport_is_a_clear_permanent_error() -> None:
    router = Router([], Transports([HttpTransport()]))
    with pytest.raises(PermanentError) as err:
        await router.resolve(_msg("iso6523-actorid-upis::em:buyer@info.de"))
    assert err.value.code == "no-transport" and "[email_out]" in err.value.message
