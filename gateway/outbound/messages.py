"""The small value types that flow between routing, transports and the queue."""

from __future__ import annotations

from dataclasses import dataclass, field

#: SMP transport profile -> name of the transport plug-in that speaks it.
TRANSPORT_PROFILES = {
    "peppol-transport-as4-v2_0": "as4",
    "bdxr-transport-ebms3-as4-v1p0": "as4",
}


@dataclass(frozen=True)
class Endpoint:
    """Where and how to deliver one document."""

    url: str
    transport: str  # plug-in name: "http", "as4", ...
    #: PEM of the receiving access point's certificate (from the SMP or the static route).
    certificate: str = ""
    #: Receiving party id for transports that need it (AS4 To/PartyId).
    party_id: str = ""
    #: "static" (a [[routes]] rule) or "smp" (dynamic discovery).
    source: str = "static"
    profile: str = ""

    def describe(self) -> str:
        return f"{self.transport} {self.url} ({self.source})"


@dataclass(frozen=True)
class OutboundMessage:
    """One document on its way out; ``message_id`` never changes across retries."""

    id: str
    message_id: str
    payload: bytes
    sender: str
    receiver: str
    document_type: str
    process: str
    attempt: int = 1


@dataclass
class DeliveryResult:
    """What the receiving side answered when it accepted the document."""

    status: int | None = None
    detail: str = ""
    #: Transport-specific evidence (e.g. an AS4 receipt), stored with the attempt.
    receipt: bytes | None = None
    extra: dict[str, str] = field(default_factory=dict)
