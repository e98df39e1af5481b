"""SML lookup: participant id -> the base URL of the SMP that publishes its capabilities.

Peppol SML since 2026-02-01 (run by OpenPeppol: :data:`SML_PRESETS`): only a U-NAPTR record
with service ``Meta:SMP`` at ``<base32(sha256(lower(value))) without padding>.<scheme>.<zone>``,
whose regexp yields the SMP URL, and SMPs are HTTPS only. Both are the default here. The
classic form - a CNAME/A record at ``B-<md5 hex(lower(value))>.<scheme>.<zone>`` whose host
name *is* the SMP (``http://`` on port 80) - is looked up only with ``cname_fallback`` (a
private network that still runs an old SML), and ``http`` SMP URLs only with ``allow_http``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from gateway.outbound.errors import PermanentError, TransientError
from gateway.outbound.identifiers import Identifier

#: ``[outbound] sml`` presets: the OpenPeppol SML zones; any other value is a custom zone.
SML_PRESETS = {
    "peppol-prod": "participant.sml.prod.tech.peppol.org",
    "peppol-test": "participant.sml.test.tech.peppol.org",
}


def sml_zone(sml: str) -> str:
    """A preset name or a custom zone -> the DNS zone ("" / "off" -> "": no discovery)."""
    sml = sml.strip()
    if sml.lower() in ("", "off"):
        return ""
    return SML_PRESETS.get(sml.lower(), sml.strip("."))


def naptr_name(pid: Identifier, zone: str) -> str:
    digest = hashlib.sha256(pid.value.lower().encode("utf-8")).digest()
    label = base64.b32encode(digest).decode("ascii").rstrip("=")
    return f"{label}.{pid.scheme}.{zone.strip('.')}"


def cname_name(pid: Identifier, zone: str) -> str:
    digest = hashlib.md5(pid.value.lower().encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"B-{digest}.{pid.scheme}.{zone.strip('.')}"


@dataclass(frozen=True)
class SmlResult:
    smp_url: str  # base URL, no trailing slash
    method: str  # "naptr" | "cname"
    dns_name: str


def make_resolver(server: str = "", timeout: float = 5.0) -> dns.asyncresolver.Resolver:
    """System resolver, or one fixed server (``host`` or ``host:port``) for tests/private SMLs."""
    if not server:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def apply_naptr_regexp(regexp: str, subject: str) -> str:
    """Apply a NAPTR ``regexp`` field (RFC 3402: ``<delim>ere<delim>repl<delim>flags``)."""
    if len(regexp) < 4:
        raise ValueError(f"bad NAPTR regexp {regexp!r}")
    delim = regexp[0]
    parts = regexp[1:].split(delim)
    if len(parts) != 3:
        raise ValueError(f"bad NAPTR regexp {regexp!r}")
    pattern, repl, flags = parts
    compiled = re.compile(pattern, re.IGNORECASE if "i" in flags else 0)
    match = compiled.search(subject)
    if not match:
        raise ValueError(f"NAPTR regexp {regexp!r} does not match {subject!r}")
    return match.expand(repl)


def _checked_url(url: str, allow_http: bool, name: str) -> str:
    if url.startswith("https://") or (allow_http and url.startswith("http://")):
        return url.rstrip("/")
    raise PermanentError(
        f"SML record {name} points at {url!r}: Peppol SMPs are HTTPS only "
        "(set outbound.smp_allow_http for a private network)",
        "smp-not-https",
    )


async def lookup_smp(
    pid: Identifier,
    zone: str,
    resolver: dns.asyncresolver.Resolver,
    *,
    cname_fallback: bool = False,
    allow_http: bool = False,
) -> SmlResult:
    """Find the SMP for ``pid``; PermanentError if the participant is not registered."""
    name = naptr_name(pid, zone)
    try:
        answer = await resolver.resolve(name, dns.rdatatype.NAPTR)
        candidates = sorted(
            (
                r
                for r in answer
                if r.service.decode().lower() == "meta:smp" and r.flags.decode().upper() == "U"
            ),
            key=lambda r: (r.order, r.preference),
        )
        for rec in candidates:
            url = apply_naptr_regexp(rec.regexp.decode(), name)
            if url.startswith(("http://", "https://")):
                return SmlResult(_checked_url(url, allow_http, name), "naptr", name)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        pass
    except ValueError as exc:
        raise PermanentError(f"SML answer for {pid} unusable: {exc}", "sml-bad-record") from exc
    except dns.exception.DNSException as exc:
        raise TransientError(f"SML lookup of {name} failed: {exc}", "sml-unavailable") from exc
    if not cname_fallback:
        raise PermanentError(
            f"receiver {pid} is not registered in the SML ({zone}): no U-NAPTR record at {name}",
            "unknown-receiver",
        )

    classic = cname_name(pid, zone)
    try:
        await resolver.resolve(classic, dns.rdatatype.A)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
        raise PermanentError(
            f"receiver {pid} is not registered in the SML ({zone})", "unknown-receiver"
        ) from exc
    except dns.exception.DNSException as exc:
        raise TransientError(f"SML lookup of {classic} failed: {exc}", "sml-unavailable") from exc
    # The classic form only knows plain HTTP on port 80: opting into it is opting into http.
    return SmlResult(f"http://{classic.lower()}", "cname", classic)
