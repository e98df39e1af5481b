"""Certificate revocation checking (OCSP, then CRL) for AS4 peers and SMP signers.

Public surface: :class:`RevocationChecker` (``check``/``status``/``aclose``), :class:`Status`,
the errors :class:`RevocationError`, :class:`CertificateRevoked`, :class:`RevocationUnavailable`,
and ``MODES`` (``hard-fail``, ``soft-fail``, ``off``).
"""

from gateway.revocation.checker import (
    MODES,
    CertificateRevoked,
    RevocationChecker,
    RevocationError,
    RevocationUnavailable,
    Status,
    crl_urls,
    ocsp_urls,
)

__all__ = [
    "MODES",
    "CertificateRevoked",
    "RevocationChecker",
    "RevocationError",
    "RevocationUnavailable",
    "Status",
    "crl_urls",
    "ocsp_urls",
]
