"""Certificate revocation: OCSP from the certificate's AIA first, its CRL distribution points as
the fallback, answers cached until their ``nextUpdate``.

Why our own client: ``cryptography`` builds and parses OCSP requests/responses and CRLs and
verifies their signatures, so what is left is policy (which answer counts, how long it holds,
what an unreachable responder means) and that policy is exactly what an access point must get
right: the Peppol Testbed sends with a revoked certificate and expects a refusal; phoss-ap
checks revocation and fails hard by default, and so do we.

Modes (``[as4] revocation``): ``hard-fail`` (a certificate whose status cannot be established
is refused), ``soft-fail`` (only a certificate proven revoked is refused), ``off``. A
certificate that names neither an OCSP responder nor a CRL distribution point has no status to
establish (its CA publishes no revocation); it passes in both modes, and Peppol's CAs always
publish both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

log = logging.getLogger(__name__)

MODES = ("hard-fail", "soft-fail", "off")
#: How long an answer without ``nextUpdate`` is trusted (RFC 6960 allows omitting it).
DEFAULT_FRESHNESS = timedelta(hours=1)
MAX_OCSP_BYTES = 64 * 1024
MAX_CRL_BYTES = 20 * 1024 * 1024


class RevocationError(Exception):
    """Base class; ``reason`` is what the operator and the peer are told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CertificateRevoked(RevocationError):
    """The issuer says the certificate is revoked (a permanent refusal)."""


class RevocationUnavailable(RevocationError):
    """The status could not be established (hard-fail refuses; worth retrying later)."""


@dataclass(frozen=True)
class Status:
    state: str  # "good" | "revoked" | "unknown" | "unchecked"
    source: str  # "ocsp <url>" | "crl <url>" | "none"
    until: datetime  # cache expiry (the answer's nextUpdate)
    detail: str = ""


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
        and d.access_location.value.startswith(("http://", "https://"))
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.startswith(("http://", "https://"))
    ]


def _verify_signed(
    public: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    try:
        if isinstance(public, rsa.RSAPublicKey) and algorithm is not None:
            public.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey) and algorithm is not None:
            public.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    """The issuer itself, or a responder certificate it issued for OCSP signing (RFC 6960 4.2.2.2)."""
    if _verify_signed(
        issuer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    ):
        return issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku and _verify_signed(
            candidate.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        ):
            return candidate
    return None


class RevocationChecker:
    """``await checker.check(cert, issuer)`` raises :class:`CertificateRevoked` or (hard-fail)
    :class:`RevocationUnavailable`; ``await checker(cert, issuer) -> bool`` is the same check in
    the shape of ``gateway.as4.RevocationCheck``. One instance per process: it holds the cache
    and an HTTP session (``aclose`` it)."""

    def __init__(
        self,
        mode: str = "hard-fail",
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], datetime] | None = None,
        clock_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"revocation mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.clock_skew = clock_skew
        self._session = session
        self._own_session = session is None
        self._status: dict[tuple[x509.Name, int], Status] = {}
        self._crls: dict[str, tuple[datetime, x509.CertificateRevocationList]] = {}
        self._inflight: dict[tuple[x509.Name, int], asyncio.Future[Status]] = {}
        #: HTTP requests made (per URL), for metrics and tests of the cache.
        self.fetches: dict[str, int] = {}

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __call__(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        await self.check(cert, issuer)
        return False

    async def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> Status:
        if self.mode == "off":
            return Status("unchecked", "none", self.clock(), "revocation checking is off")
        status = await self.status(cert, issuer)
        subject = cert.subject.rfc4514_string()
        if status.state == "revoked":
            raise CertificateRevoked(f"{subject} is revoked ({status.detail}; {status.source})")
        if status.state == "unknown":
            reason = f"revocation status of {subject} could not be established: {status.detail}"
            if self.mode == "hard-fail":
                raise RevocationUnavailable(reason)
            log.warning("soft-fail: accepting %s", reason)
        return status

    async def status(self, cert: x509.Certificate, issuer: x509.Certificate) -> Status:
        """The cached or freshly fetched status (never raises for network trouble)."""
        key = (cert.issuer, cert.serial_number)
        hit = self._status.get(key)
        if hit is not None and self.clock() < hit.until:
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            status = await self._lookup(cert, issuer)
            if status.state in ("good", "revoked"):
                self._status[key] = status
            future.set_result(status)
            return status
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._inflight.pop(key, None)

    async def _lookup(self, cert: x509.Certificate, issuer: x509.Certificate) -> Status:
        ocsp_list, crl_list = ocsp_urls(cert), crl_urls(cert)
        now = self.clock()
        if not ocsp_list and not crl_list:
            return Status("unchecked", "none", now + DEFAULT_FRESHNESS, "no OCSP or CRL published")
        problems: list[str] = []
        for url in ocsp_list:
            try:
                status = await self._ocsp(url, cert, issuer)
            except RevocationError as exc:
                problems.append(f"OCSP {url}: {exc.reason}")
                continue
            if status.state != "unknown":
                return status
            problems.append(f"OCSP {url}: responder does not know the certificate")
        for url in crl_list:
            try:
                return await self._crl(url, cert, issuer)
            except RevocationError as exc:
                problems.append(f"CRL {url}: {exc.reason}")
        return Status("unknown", "none", now, "; ".join(problems))

    # --- HTTP ---------------------------------------------------------------------------------

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own_session = True
        return self._session

    async def _fetch(self, url: str, limit: int, body: bytes | None = None) -> bytes:
        self.fetches[url] = self.fetches.get(url, 0) + 1
        session = await self._http()
        headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
        try:
            async with session.request(
                "POST" if body is not None else "GET", url, data=body, headers=headers
            ) as resp:
                data = await resp.content.read(limit + 1)
                if resp.status != 200:
                    raise RevocationError(f"HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RevocationError(f"unreachable ({exc.__class__.__name__})") from exc
        if len(data) > limit:
            raise RevocationError(f"answer larger than {limit} bytes")
        return data

    # --- OCSP ---------------------------------------------------------------------------------

    async def _ocsp(self, url: str, cert: x509.Certificate, issuer: x509.Certificate) -> Status:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        der = await self._fetch(
            url, MAX_OCSP_BYTES, request.public_bytes(serialization.Encoding.DER)
        )
        try:
            response = ocsp.load_der_ocsp_response(der)
        except ValueError as exc:
            raise RevocationError("answer is not an OCSP response") from exc
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise RevocationError(f"responder answered {response.response_status.name}")
        if _ocsp_signer(response, issuer) is None:
            raise RevocationError("response is not signed by the issuer or its OCSP responder")
        single = next(
            (
                r
                for r in response.responses
                if r.serial_number == cert.serial_number
                and r.issuer_key_hash == request.issuer_key_hash
            ),
            None,
        )
        if single is None:
            raise RevocationError("response does not answer for this certificate")
        until = self._fresh(single.this_update_utc, single.next_update_utc)
        source = f"ocsp {url}"
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            reason = single.revocation_reason.name if single.revocation_reason else "unspecified"
            return Status("revoked", source, until, f"reason {reason}")
        if single.certificate_status == ocsp.OCSPCertStatus.UNKNOWN:
            return Status("unknown", source, until, "OCSP answered unknown")
        return Status("good", source, until)

    def _fresh(self, this_update: datetime, next_update: datetime | None) -> datetime:
        now = self.clock()
        if this_update - self.clock_skew > now:
            raise RevocationError("answer is dated in the future")
        until = next_update or now + DEFAULT_FRESHNESS
        if until + self.clock_skew < now:
            raise RevocationError("answer is stale (nextUpdate has passed)")
        return until

    # --- CRL ----------------------------------------------------------------------------------

    async def _crl(self, url: str, cert: x509.Certificate, issuer: x509.Certificate) -> Status:
        now = self.clock()
        cached = self._crls.get(url)
        if cached is not None and now < cached[0]:
            crl = cached[1]
        else:
            data = await self._fetch(url, MAX_CRL_BYTES)
            try:
                crl = (
                    x509.load_pem_x509_crl(data)
                    if data.lstrip().startswith(b"-----BEGIN")
                    else x509.load_der_x509_crl(data)
                )
            except ValueError as exc:
                raise RevocationError("answer is not a CRL") from exc
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                raise RevocationError("CRL is not signed by the certificate's issuer")
            until = self._fresh(crl.last_update_utc, crl.next_update_utc)
            self._crls[url] = (until, crl)
        until = self._crls[url][0]
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
            except x509.ExtensionNotFound:
                reason = "unspecified"
            return Status("revoked", f"crl {url}", until, f"reason {reason}")
        return Status("good", f"crl {url}", until)


#: What :class:`gateway.as4.TrustStore` and the SMP trust call: revoked -> raise.
CheckRevocation = Callable[[x509.Certificate, x509.Certificate], Awaitable[Status]]
