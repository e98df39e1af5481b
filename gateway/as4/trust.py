"""Certificate trust: chain to configured anchors, validity period, optional cached revocation.

Why our own path builder instead of an OS trust store: Peppol trust is *only* the Peppol AP CA
(or a private network's CA), never the web PKI, so the anchors must be exactly what the operator
configured. The chains are short (leaf -> AP CA -> root), so a simple issuer walk is enough.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from gateway.as4.identity import fingerprint, load_certificates
from gateway.revocation import CertificateRevoked, RevocationChecker, RevocationError

#: ``async revoked(cert, issuer) -> bool``; may raise ``gateway.revocation.RevocationError``
#: (``gateway.revocation.RevocationChecker`` does, with the reason). Results are cached for
#: ``cache_ttl`` (0: the check caches itself, as the OCSP/CRL checker does until nextUpdate).
RevocationCheck = Callable[[x509.Certificate, x509.Certificate], Awaitable[bool]]


class UntrustedCertificate(Exception):
    """The certificate does not chain to an anchor, is expired or is revoked.

    ``transient`` is set when only the revocation status could not be established (hard-fail):
    the same certificate may pass once the responder answers again."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def _can_sign_certs(cert: x509.Certificate) -> bool:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject or not _can_sign_certs(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class TrustStore:
    """Validates peer certificates; verified results are cached per certificate for ``cache_ttl``."""

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        *,
        revocation: RevocationCheck | None = None,
        cache_ttl: float = 3600.0,
        max_depth: int = 4,
    ) -> None:
        if not anchors:
            raise ValueError("at least one trust anchor is required")
        self.anchors = list(anchors)
        self.intermediates = list(intermediates)
        self.revocation = revocation
        self.cache_ttl = cache_ttl
        self.max_depth = max_depth
        self._revocation_cache: dict[str, tuple[float, bool]] = {}
        self._path_cache: dict[x509.Certificate, list[x509.Certificate]] = {}

    @classmethod
    def from_files(
        cls,
        anchors: list[str],
        intermediates: list[str] = (),
        **kwargs: object,  # type: ignore[assignment]
    ) -> TrustStore:
        return cls(load_certificates(anchors), load_certificates(list(intermediates)), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, as4: Any) -> TrustStore:
        """Anchors and intermediates of ``[as4]`` with its ``revocation`` mode: OCSP/CRL
        through :class:`gateway.revocation.RevocationChecker`, which caches until nextUpdate."""
        revocation = None
        if as4.revocation != "off":
            revocation = RevocationChecker(as4.revocation, timeout=as4.revocation_timeout)
        return cls(
            load_certificates(as4.trust_anchors),
            load_certificates(list(as4.intermediates)),
            revocation=revocation,
            cache_ttl=0,
        )

    async def aclose(self) -> None:
        closer = getattr(self.revocation, "aclose", None)
        if closer is not None:
            await closer()

    def path(self, leaf: x509.Certificate) -> list[x509.Certificate]:
        """The chain leaf..anchor, or raise :class:`UntrustedCertificate`."""
        # Keyed by the certificate itself (equal and hashed by its DER, in Rust): a SHA-256
        # fingerprint per message was 1.5% of an AS4 send's CPU.
        key = leaf
        cached = self._path_cache.get(key)
        if cached is not None:
            return cached
        chain = [leaf]
        while len(chain) <= self.max_depth:
            current = chain[-1]
            anchor = next((a for a in self.anchors if _issued_by(current, a)), None)
            if anchor is not None:
                chain.append(anchor)
                self._path_cache[key] = chain
                return chain
            step = next(
                (c for c in self.intermediates if c not in chain and _issued_by(current, c)), None
            )
            if step is None:
                break
            chain.append(step)
        raise UntrustedCertificate(
            f"{leaf.subject.rfc4514_string()} does not chain to a trust anchor"
        )

    async def validate(
        self, leaf: x509.Certificate, at: datetime | None = None
    ) -> list[x509.Certificate]:
        """Full check: chain, validity of every element at ``at`` (default now), revocation."""
        chain = self.path(leaf)
        now = at or datetime.now(UTC)
        for cert in chain:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                raise UntrustedCertificate(
                    f"{cert.subject.rfc4514_string()} is outside its validity period"
                )
        if self.revocation is not None:
            for cert, issuer in itertools.pairwise(chain):
                try:
                    revoked = await self._revoked(cert, issuer)
                except CertificateRevoked as exc:
                    raise UntrustedCertificate(exc.reason) from exc
                except RevocationError as exc:
                    raise UntrustedCertificate(exc.reason, transient=True) from exc
                if revoked:
                    raise UntrustedCertificate(f"{cert.subject.rfc4514_string()} is revoked")
        return chain

    async def _revoked(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        assert self.revocation is not None
        if self.cache_ttl <= 0:
            return await self.revocation(cert, issuer)
        key = fingerprint(cert)
        hit = self._revocation_cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        revoked = await self.revocation(cert, issuer)
        self._revocation_cache[key] = (time.monotonic() + self.cache_ttl, revoked)
        return revoked
