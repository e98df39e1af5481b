"""A real DNS responder on loopback UDP, answering from a dict of records (test helper)."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = self.server.answer(query)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


class DnsServer:
    """``records[(name, "NAPTR")] = ['10 100 "U" "Meta:SMP" "!^.*$!http://x!" .']``."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), rdtype.upper()), []).extend(values)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        qname = question.name.to_text().lower().rstrip(".")
        qtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((qname, qtype))
        name = qname
        known = any(key[0] == qname for key in self.records)
        if not known:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        # Follow CNAMEs inside our own data, like an authoritative server would.
        for _ in range(8):
            cname = self.records.get((name, "CNAME"))
            if cname and qtype != "CNAME":
                response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "CNAME", *cname))
                name = cname[0].lower().rstrip(".")
                continue
            values = self.records.get((name, qtype))
            if values:
                response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", qtype, *values))
            break
        return response

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=("127.0.0.1", 0)
        )
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
