"""SMP client: ServiceGroup -> SignedServiceMetadata -> endpoint for a document type + process.

Speaks both Peppol SMP 1.x (busdox namespaces, ``wsa:EndpointReference/wsa:Address``) and
OASIS BDXR SMP 1.0 (``EndpointURI``); element names are matched namespace-agnostically because
the two differ only in namespace and that one element. Answers are parsed with the gateway's
safe parser (no DTDs/entities) and size-capped, since the SMP is a remote party.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree

from gateway.documents import ParseLimits, XmlRefused, parse_xml
from gateway.outbound.discovery.signature import SmpTrust
from gateway.outbound.errors import PermanentError, TransientError
from gateway.outbound.identifiers import Identifier
from gateway.outbound.messages import TRANSPORT_PROFILES, Endpoint

MAX_SMP_BYTES = 4 * 1024 * 1024
_LIMITS = ParseLimits(max_bytes=MAX_SMP_BYTES, max_depth=64)


def _pem(b64: str) -> str:
    der = base64.b64decode("".join(b64.split()))
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _id_matches(node: etree._Element | None, ident: Identifier) -> bool:
    if node is None or node.text is None:
        return False
    scheme = (node.get("scheme") or "").strip().lower()
    return scheme == ident.scheme.lower() and node.text.strip() == ident.value


def _matches_uid(uid: str, cert: x509.Certificate) -> bool:
    """Peppol SMP 1.x: a Redirect's CertificateUID names the certificate that must sign the
    redirected answer (its subject, or the subject's CN / serialNumber)."""
    wanted = " ".join(uid.split()).lower()
    subject = cert.subject
    candidates = {
        subject.rfc4514_string().lower(),
        ",".join(a.rfc4514_string() for a in reversed(list(subject))).lower(),
    }
    for oid in (NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER):
        candidates.update(str(a.value).lower() for a in subject.get_attributes_for_oid(oid))
    return wanted in {" ".join(c.split()) for c in candidates}


class SmpClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        trust: SmpTrust,
        timeout: float = 15.0,
        *,
        allow_http: bool = False,
        revocation: Any | None = None,
    ):
        self.session = session
        self.trust = trust
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.allow_http = allow_http
        #: ``gateway.revocation.RevocationChecker`` for the SMP signing certificates (or None)
        self.revocation = revocation

    async def _verified(
        self, root: etree._Element
    ) -> tuple[etree._Element, list[x509.Certificate]]:
        signed, chain = self.trust.verify_signer(root)
        if self.revocation is not None and len(chain) >= 2:
            from gateway.revocation import CertificateRevoked, RevocationError

            try:
                await self.revocation.check(chain[0], chain[1])
            except CertificateRevoked as exc:
                raise PermanentError(
                    f"SMP signing certificate revoked: {exc.reason}", "smp-certificate-revoked"
                ) from exc
            except RevocationError as exc:
                raise TransientError(
                    f"SMP signing certificate: {exc.reason}", "smp-revocation-unavailable"
                ) from exc
        return signed, chain

    async def _get(self, url: str, what: str) -> etree._Element:
        if not url.startswith("https://") and not (self.allow_http and url.startswith("http://")):
            raise PermanentError(
                f"SMP URL {url!r} is not https (Peppol SMPs are HTTPS only; "
                "outbound.smp_allow_http allows http on a private network)",
                "smp-not-https",
            )
        try:
            async with self.session.get(url, timeout=self.timeout, allow_redirects=False) as resp:
                if resp.status == 404:
                    raise PermanentError(f"SMP has no {what} ({url})", "smp-not-found")
                if resp.status >= 500 or resp.status in (408, 429):
                    raise TransientError(f"SMP answered {resp.status} for {url}", "smp-unavailable")
                if resp.status != 200:
                    raise PermanentError(f"SMP answered {resp.status} for {url}", "smp-refused")
                body = await resp.content.read(MAX_SMP_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"SMP {url} unreachable: {exc}", "smp-unavailable") from exc
        try:
            return parse_xml(body, _LIMITS).getroot()
        except XmlRefused as exc:
            raise PermanentError(
                f"SMP answer for {what} unusable: {exc}", "smp-bad-answer"
            ) from exc

    async def metadata_url(self, smp_url: str, pid: Identifier, doctype: Identifier) -> str:
        """Read the ServiceGroup and pick the reference for ``doctype``."""
        group = await self._get(f"{smp_url}/{quote(str(pid), safe='')}", f"service group for {pid}")
        wanted = f"/services/{doctype}".lower()
        for ref in group.iterfind(".//{*}ServiceMetadataReference"):
            href = ref.get("href") or ""
            if unquote(href).lower().endswith(wanted):
                return href
        raise PermanentError(
            f"receiver {pid} does not accept document type {doctype.value}", "doctype-not-supported"
        )

    async def endpoints(
        self, smp_url: str, pid: Identifier, doctype: Identifier, process: Identifier | None
    ) -> list[Endpoint]:
        url = await self.metadata_url(smp_url, pid, doctype)
        root = await self._get(url, f"service metadata for {doctype.value}")
        redirect = root.find(".//{*}Redirect")
        if redirect is not None and redirect.get("href"):
            # One hop only (SMP spec); the redirect itself must be signed by our SMP, and the
            # answer it points at by the certificate its CertificateUID names.
            signed_redirect, _ = await self._verified(root)
            target = signed_redirect.find(".//{*}Redirect")
            href = (target.get("href") if target is not None else None) or ""
            uid = (target.findtext("{*}CertificateUID") if target is not None else None) or ""
            root = await self._get(href, "redirected service metadata")
            signed, chain = await self._verified(root)
            if chain and not (uid.strip() and _matches_uid(uid, chain[0])):
                raise PermanentError(
                    f"redirected SMP answer is signed by {chain[0].subject.rfc4514_string()}, "
                    f"not by the certificate the redirect names ({uid.strip() or 'none'})",
                    "smp-redirect-certificate",
                )
            return self._parse(signed, pid, doctype, process)
        signed, _ = await self._verified(root)
        return self._parse(signed, pid, doctype, process)

    def _parse(
        self, root: etree._Element, pid: Identifier, doctype: Identifier, process: Identifier | None
    ) -> list[Endpoint]:
        info = root.find(".//{*}ServiceInformation")
        if info is None:
            raise PermanentError("SMP answer has no ServiceInformation", "smp-bad-answer")
        if not _id_matches(info.find("{*}DocumentIdentifier"), doctype):
            raise PermanentError("SMP answered for another document type", "smp-bad-answer")
        now = datetime.now(UTC)
        found: list[Endpoint] = []
        for proc in info.iterfind("{*}ProcessList/{*}Process"):
            if process is not None and not _id_matches(proc.find("{*}ProcessIdentifier"), process):
                continue
            for ep in proc.iterfind("{*}ServiceEndpointList/{*}Endpoint"):
                start = _date(ep.findtext("{*}ServiceActivationDate"))
                end = _date(ep.findtext("{*}ServiceExpirationDate"))
                if (start and start > now) or (end and end < now):
                    continue
                address = ep.findtext("{*}EndpointReference/{*}Address") or ep.findtext(
                    "{*}EndpointURI"
                )
                if not address:
                    continue
                profile = ep.get("transportProfile") or ""
                cert = ep.findtext("{*}Certificate")
                found.append(
                    Endpoint(
                        url=address.strip(),
                        transport=TRANSPORT_PROFILES.get(profile, profile),
                        certificate=_pem(cert) if cert else "",
                        party_id=str(pid),
                        source="smp",
                        profile=profile,
                    )
                )
        if not found:
            raise PermanentError(
                f"receiver {pid} has no active endpoint for process "
                f"{process.value if process else '(any)'}",
                "process-not-supported",
            )
        return found
