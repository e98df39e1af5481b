"""The typed settings tree: one dataclass per ``[section]`` of the TOML file, defaults here.

Every field is a setting (its type is what the loader, :mod:`gateway.config.loader`, coerces
the file's and the environment's values to); ``config/gateway.example.toml`` documents each.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Largest request body accepted (bytes); larger bodies are refused with 413 while streaming.
    max_body_bytes: int = 20 * 1024 * 1024
    #: Bytes of request bodies held in memory at once, over all requests; a body that does not
    #: fit next to the others is answered 503 with Retry-After (see gateway.web.body).
    max_bodies_bytes: int = 256 * 1024 * 1024
    #: Seconds a client has to send a request's headers (and to keep an idle connection);
    #: a slow-loris client is disconnected after it.
    header_timeout: float = 15.0
    #: Seconds a client has to send a whole request body (408 after it).
    body_timeout: float = 60.0
    #: Failed authentications per client address per minute before 429 (0 = no limit).
    auth_failures_per_minute: int = 60
    #: Seconds an unknown API key is remembered as unknown (no database read meanwhile).
    unknown_key_cache_seconds: float = 30.0


@dataclass
class SmtpSettings:
    host: str = "127.0.0.1"
    #: 0 disables the e-mail channel.
    port: int = 0
    max_message_bytes: int = 30 * 1024 * 1024
    #: Concurrent SMTP sessions; one more is answered 421 and disconnected.
    max_sessions: int = 16
    #: Seconds of silence from the client before the session is closed (per command/line).
    timeout: float = 60.0
    #: Seconds a whole session may last (a slow-drip client is cut off; see the channel).
    max_session_seconds: float = 900.0
    #: MIME leaves examined per message; a mail with more is refused (552).
    max_parts: int = 200
    #: Invoices accepted from one message; a mail with more is refused (552).
    max_invoices: int = 50
    #: Bytes stored for one message (the raw message plus its decoded attachments and invoice
    #: documents, each stored once); a mail needing more is refused (552).
    max_stored_bytes: int = 80 * 1024 * 1024
    #: PEM certificate chain + key: when both are set, the listener offers STARTTLS.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: Refuse MAIL FROM until the client has switched to TLS (needs the two files above).
    require_tls: bool = False


@dataclass
class ValidationSettings:
    #: Largest XML document accepted for validation (bytes).
    max_bytes: int = 20 * 1024 * 1024
    #: Deepest element nesting accepted.
    max_depth: int = 200
    #: Worker processes used for validation (0 = validate in-process, no pool).
    jobs: int = 2
    #: Give Saxon a stand-in for large text no rule can read (embedded attachments), and
    #: libxml2 one for large plain base64 values the schema layer has checked itself; see
    #: gateway.validation.speedups.standin. Off = both parse and validate every document byte for byte.
    stand_ins: bool = True
    #: Seconds of worker time every document may use, plus ``timeout_per_mb`` per MB of XML;
    #: then the worker is killed and replaced and the document's report is
    #: ``validation-timeout`` (0 = no deadline). Worker processes only (``jobs`` >= 1).
    timeout: float = 10.0
    timeout_per_mb: float = 5.0
    #: A request whose caller went away (task cancelled) for this long has its worker killed.
    cancel_after: float = 2.0
    #: Findings listed per report; the rest are counted in ``findings_omitted`` (0 = all).
    max_findings: int = 1000
    #: A worker whose resident size after a document is more than this above its own
    #: baseline (its size when ready plus what compiling its scenarios added) is replaced
    #: before its next document (0 = off) ...
    worker_rss_growth_mib: int = 40
    #: ... but one at or below this size is kept whatever it grew: under steady traffic a
    #: worker levels off 50-75 MiB above its baseline, and replacing it every ~350 documents
    #: for that cost ingest up to 1.2x of its rate and put its p99 near 1 s (0 = no floor).
    worker_rss_floor_mib: int = 300
    #: ... and one above this absolute size, whatever its baseline (0 = no cap).
    max_worker_rss_mib: int = 768
    #: Scenarios compiled when a worker starts (["*"] = all); the others are compiled on their
    #: first document, so a worker holds only the rules its traffic uses (~240 MiB for the
    #: XRechnung suite's four stylesheets, ~400 MiB with all of them).
    warm: list[str] = field(default_factory=list)
    #: Documents with more tags than this never take the last free worker (0 = no lane).
    heavy_tags: int = 20000
    #: A KoSIT validator configuration for ``gateway serve``: a folder with scenarios.xml, or
    #: the folder name of an installed one under DATA_DIR/artefacts ("kosit-xrechnung-config").
    kosit_config: str = ""
    #: Tenants whose documents are validated with it (empty = every tenant).
    kosit_tenants: list[str] = field(default_factory=list)


@dataclass
class OutboundSettings:
    retry_initial: float = 5.0
    retry_max: float = 3600.0
    max_attempts: int = 12
    #: Seconds after submission at which an undelivered item fails for good.
    max_age: float = 3 * 24 * 3600.0
    lease_seconds: float = 60.0
    workers: int = 4
    per_receiver_concurrency: int = 4
    #: Seconds between polls of a busy queue. Idle, the worker and the drafts scheduler poll
    #: less and less often, up to ``idle_poll_max``: work submitted in this process wakes them
    #: at once, so does work another process queues on PostgreSQL while ``listen`` is on (else,
    #: or for a notification lost in a reconnection, it waits at most that long), and retries
    #: and ``send_at`` times they know of are kept to the second.
    poll_interval: float = 0.5
    idle_poll_max: float = 5.0
    #: PostgreSQL: listen (``LISTEN``, one connection per process) for the commits of other
    #: processes that make work due, and wake at once instead of at the idle poll. Off behind
    #: a pooler that does not keep a session on one server connection (PgBouncer's
    #: transaction mode); every commit still notifies the others. Nothing on SQLite.
    listen: bool = True
    request_timeout: float = 30.0
    #: SML: "peppol-prod" | "peppol-test" (OpenPeppol's zones) | a custom DNS zone | "off".
    sml: str = "peppol-prod"
    #: Explicit SML zone; overrides ``sml`` when set (kept for older configurations).
    sml_dns_suffix: str = ""
    #: Also try the classic CNAME name when no U-NAPTR record exists (private networks only;
    #: the Peppol SML publishes only NAPTR since 2026-02-01). Implies http for that SMP.
    sml_cname_fallback: bool = False
    #: Accept ``http://`` SMP URLs (private networks only; Peppol SMPs are HTTPS only).
    smp_allow_http: bool = False
    smp_cache_ttl: float = 3600.0
    dns_server: str = ""
    #: PEM/DER files of the CAs that may sign SMP answers (Peppol SMP CA); required for discovery.
    smp_trust_anchors: list[str] = field(default_factory=list)
    #: Turning this off accepts unsigned SMP answers; only for private test networks.
    smp_verify_signature: bool = True


@dataclass
class WebhookSettings:
    max_attempts: int = 8
    retry_initial: float = 1.0
    retry_max: float = 300.0
    timeout: float = 15.0
    #: Let webhooks go to loopback, private and link-local addresses (on-premise receivers,
    #: tests). Off: such destinations are refused when set and at every send (see
    #: gateway.forwarding.destinations).
    allow_private_destinations: bool = False


@dataclass
class As4Settings:
    party_id: str = ""
    key_file: str = ""
    cert_file: str = ""
    key_password: str = ""
    trust_anchors: list[str] = field(default_factory=list)
    intermediates: list[str] = field(default_factory=list)
    max_message_bytes: int = 50 * 1024 * 1024
    #: Also capped at ``[validation] max_bytes`` (+64 KiB for the SBDH): more is refused (EBMS:0303).
    max_decompressed_bytes: int = 100 * 1024 * 1024
    #: Most ds:Reference elements one message signature may have (each URI at most once).
    max_signature_references: int = 32
    #: OCSP/CRL checking of sending APs, receivers and SMP signers (see gateway.revocation).
    revocation: typing.Literal["hard-fail", "soft-fail", "off"] = "hard-fail"
    #: Seconds per OCSP/CRL request.
    revocation_timeout: float = 10.0
    clock_skew_seconds: float = 300.0
    #: ISO country of our end users: COUNTRY_C1 / C4 when a document names no address country.
    country: str = ""
    #: MLS_TYPE we ask receiving APs for (ALWAYS_SEND | FAILURE_ONLY); "" requests no MLS.
    mls_type: str = "ALWAYS_SEND"
    #: Seconds between looks for owed MLS left by a crash (those older than this; the
    #: recovery pass at start takes every one whose lease ran out).
    mls_sweep_interval: float = 30.0


@dataclass
class ReportingSettings:
    """Peppol Reporting (TSR/EUSR to OpenPeppol), see gateway.reporting."""

    #: Send last month's TSR and EUSR between day 1 and 15 (only when [as4] is configured).
    schedule: bool = True
    #: Seconds between looks at the schedule (each process; a database claim keeps it once).
    interval: float = 3600.0


@dataclass
class EmailTrust:
    """One trusted e-mail sender of a tenant's counterpart: ``sender`` (an address), and the
    participant id its responses may speak for (empty: any)."""

    tenant: str
    sender: str
    participant: str = ""


@dataclass
class ResponsesSettings:
    """Peppol Invoice Responses (T111): timers and the response-code mapping table."""

    #: Tell tenants (history note + webhook ``document.overdue``) when a sales invoice becomes
    #: overdue; the status never changes: overdue is a condition (off by default).
    overdue_timer: bool = False
    overdue_interval: float = 3600.0
    #: Seconds between extra re-matching sweeps (0 = none). Responses that arrived before their
    #: invoice are applied by a lifecycle event when the invoice is sent; a sweep runs at start.
    rematch_interval: float = 0.0
    #: Mapping table (TOML); empty = config/invoice-response-mapping.toml of the gateway.
    mapping_file: str = ""
    #: Per tenant: e-mail senders whose Invoice Responses are applied when the mail carries a
    #: valid DKIM signature of the From domain (``[[responses.email_trust]]``, see
    #: gateway.responses.dkim). Every other e-mailed response is held for an admin.
    email_trust: list[EmailTrust] = field(default_factory=list)
    #: Seconds between looks for Invoice Responses owed and not sent (left by a crash; the
    #: recovery pass at start sends every one, the sweep those older than this).
    owed_sweep_interval: float = 30.0


@dataclass
class LifecycleSettings:
    """Document statuses (gateway.lifecycle)."""

    #: Folder of your own status profiles (TOML files, see README "Status profiles"); empty =
    #: only the shipped ones.
    profiles_dir: str = ""


@dataclass
class FranceSettings:
    """France's e-invoicing reform (gateway.france): CDAR lifecycle messages sent."""

    #: Send a CDAR to the seller when a tenant changes the status of a French purchase
    #: invoice (approve, refuse, paid, ...; gateway/france/codes.toml [emit]).
    emit: bool = True
    #: This platform's id in the French registry of platforms (scheme 0238, e.g. "0003"):
    #: names the sender of the copies of mandatory statuses for the state platform. Empty =
    #: those copies are recorded as not sent, saying so.
    platform_id: str = ""
    platform_name: str = ""
    #: The state platform (PPF data concentrator) as a participant: XP Z12-012 names it
    #: 0238:0000 in the copies of mandatory statuses.
    ppf_participant: str = "0238:0000"
    #: AFNOR's XP Z12-013 flow-service 1.3.0 OpenAPI file (not shipped): served, if it is the
    #: pinned file, as the Flow API's own description at /afnor/flow-service/openapi.json.
    flow_openapi: str = ""
    #: Seconds between looks for CDAR owed and not sent (left by a crash; the recovery pass
    #: at start sends every one, the sweep those older than this).
    owed_sweep_interval: float = 30.0


@dataclass
class LogSettings:
    level: str = "INFO"
    #: "json" (default, for machines) or "text" (for people at a terminal).
    format: str = "json"


@dataclass
class MetricsSettings:
    #: When set, GET /metrics requires ``Authorization: Bearer <token>``.
    token: str = ""
    #: Answer /metrics only to peers on the loopback interface.
    loopback_only: bool = False
    #: Database figures (documents by status, queue depth) are re-read at most this often.
    snapshot_seconds: float = 15.0
    #: Distinct tenant label values per metric; later tenants are counted as ``_other``.
    max_tenant_labels: int = 50


@dataclass
class ConsoleSettings:
    #: Console sessions end this long after sign-in (seconds).
    session_seconds: float = 8 * 3600.0
    #: ... or after this long without a request (seconds).
    idle_seconds: float = 3600.0
    #: Always mark console cookies Secure (they are anyway over TLS, or when a proxy in front
    #: sends ``X-Forwarded-Proto: https``).
    secure_cookies: bool = False


@dataclass
class Route:
    """A static routing rule, checked before dynamic (SML/SMP) discovery."""

    participant: str
    url: str = ""
    transport: str = "http"
    certificate: str = ""
    party_id: str = ""
    #: E-mail address(es), comma-separated, for ``transport = "email"``.
    to: str = ""


@dataclass
class FolderSettings:
    """A watched folder (``[[folders]]``): files dropped there enter the gateway."""

    tenant: str
    path: str
    #: "inbound": received invoices for ``tenant``; "outbound": documents ``tenant`` sends.
    direction: str = "inbound"
    #: A file is complete once its size and time have not changed for this long.
    stable_seconds: float = 2.0
    poll_interval: float = 1.0
    #: Files processed at once (they share the validator pool).
    concurrency: int = 4
    #: Outbound only: send to this participant instead of the document's receiver.
    receiver: str = ""


@dataclass
class EmailOutSettings:
    """The relay the ``email`` transport sends through (empty ``host``: no e-mail transport)."""

    host: str = ""
    port: int = 587
    #: "starttls" (submission, port 587), "tls" (implicit TLS, port 465) or "none" (tests only).
    security: str = "starttls"
    username: str = ""
    password: str = ""
    #: Sender of every mail; its domain also names the Message-ID.
    from_address: str = ""
    timeout: float = 60.0
    #: Extra CA certificates (PEM file) to trust for the relay's TLS certificate.
    ca_file: str = ""
    #: Attach a PDF rendering when the client gave no PDF of its own.
    render_pdf: bool = True
    #: Labels of the rendering ("de" or "en").
    render_lang: str = "de"


@dataclass
class Settings:
    data_dir: Path = Path("data")
    #: SQLAlchemy URL; empty = embedded SQLite in the data directory.
    database_url: str = ""
    http: HttpSettings = field(default_factory=HttpSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    as4: As4Settings = field(default_factory=As4Settings)
    log: LogSettings = field(default_factory=LogSettings)
    responses: ResponsesSettings = field(default_factory=ResponsesSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    france: FranceSettings = field(default_factory=FranceSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    reporting: ReportingSettings = field(default_factory=ReportingSettings)
    routes: list[Route] = field(default_factory=list)
    email_out: EmailOutSettings = field(default_factory=EmailOutSettings)
    folders: list[FolderSettings] = field(default_factory=list)

    @property
    def artefacts_dir(self) -> Path:
        return self.data_dir / "artefacts"

    @property
    def kosit_config_path(self) -> Path:
        """``[validation] kosit_config`` as a path (an installed bundle's folder by name)."""
        given = Path(self.validation.kosit_config)
        return given if given.is_absolute() or given.exists() else self.artefacts_dir / given

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').resolve()}"
