"""What each tenant sees of the lifecycle: its status profiles, settings and vocabulary.

A base of :class:`gateway.lifecycle.Lifecycle` (which sets the attributes below): reading and
choosing a tenant's profiles and settings, naming statuses in the tenant's words, the moves a
role may make next, and the check of a client's move against the tenant's profile. None of it
writes a status (that is :mod:`gateway.lifecycle.mover`'s); it is kept apart so the mover is
the moves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import overdue
from gateway.lifecycle.model import IllegalTransition, Models, StatusModel
from gateway.lifecycle.profile import (
    DEFAULT,
    DirectionProfile,
    Profile,
    ResponseRule,
    conditions_of,
)
from gateway.lifecycle.tables import LifecycleSettings
from gateway.lifecycle.vocabulary import ADMIN, API
from gateway.store import Document, utcnow

SettingRead = Callable[[AsyncSession, str], Awaitable[Any]]
SettingWrite = Callable[[AsyncSession, str, Any], Awaitable[Any]]


class TenantProfiles:
    models: Models
    profiles: dict[str, Profile]
    #: Tenant settings other packages keep (e.g. responses' ``email_trust``): name ->
    #: (read(session, tenant), write(session, tenant, value) raising ValueError).
    extra_settings: dict[str, tuple[SettingRead, SettingWrite]]
    #: What a profile without its own ``[[inbound.responses]]`` table sends.
    default_responses: dict[str, ResponseRule]

    async def profile(
        self, session: AsyncSession, tenant: str | None, direction: str
    ) -> DirectionProfile:
        """The tenant's status profile for ``direction`` (``default`` unless one was set)."""
        chosen = None
        if tenant is not None:
            row = await session.get(LifecycleSettings, tenant)
            if row is not None:
                chosen = row.inbound_profile if direction == "inbound" else row.outbound_profile
        return self.profiles.get(chosen or DEFAULT, self.profiles[DEFAULT]).direction(direction)

    def add_setting(self, name: str, read: SettingRead, write: SettingWrite) -> None:
        """A tenant setting of another package, shown and changed with the lifecycle's
        (``GET|PUT /v1/admin/settings``); ``write`` raises ValueError with the usage."""
        self.extra_settings[name] = (read, write)

    async def settings(self, session: AsyncSession, tenant: str) -> dict[str, Any]:
        row = await session.get(LifecycleSettings, tenant)
        extra = {
            name: await read(session, tenant) for name, (read, _) in self.extra_settings.items()
        }
        return {
            **extra,
            "tenant": tenant,
            "status_profile": {
                "inbound": (row.inbound_profile if row else None) or DEFAULT,
                "outbound": (row.outbound_profile if row else None) or DEFAULT,
            },
            "webhook_content": bool(row and row.webhook_content),
            "profiles": sorted(self.profiles),
        }

    async def configure(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        inbound: str | None = None,
        outbound: str | None = None,
        webhook_content: bool | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Select the tenant's profiles (ids of :attr:`profiles`) and webhook bodies, and set
        ``extra`` settings (names of :attr:`extra_settings`; KeyError / ValueError)."""
        for name in extra or {}:
            if name not in self.extra_settings:
                raise ValueError(f"unknown setting {name!r}")
        for pid in (inbound, outbound):
            if pid is not None and pid not in self.profiles:
                raise KeyError(
                    f"no status profile {pid!r}; known: {', '.join(sorted(self.profiles))}"
                )
        row = await session.get(LifecycleSettings, tenant)
        if row is None:
            row = LifecycleSettings(tenant=tenant, webhook_content=False)
            session.add(row)
        if inbound is not None:
            row.inbound_profile = inbound
        if outbound is not None:
            row.outbound_profile = outbound
        if webhook_content is not None:
            row.webhook_content = webhook_content
        row.updated_at = utcnow()
        await session.flush()
        for name, value in (extra or {}).items():
            await self.extra_settings[name][1](session, tenant, value)
        return await self.settings(session, tenant)

    async def response_rule(
        self, session: AsyncSession, tenant: str | None, status: str
    ) -> ResponseRule | None:
        """The Invoice Response a move of the tenant's purchase invoice to canonical ``status``
        sends, by the tenant's inbound profile (None: none)."""
        prof = await self.profile(session, tenant, "inbound")
        table = prof.responses if prof.responses is not None else self.default_responses
        return table.get(status)

    async def describe(self, session: AsyncSession, doc: Document) -> dict[str, Any]:
        """``status`` in the tenant's vocabulary, ``canonical_status``, and the conditions."""
        prof = await self.profile(session, doc.tenant, doc.direction)
        conditions = conditions_of(doc)
        return {
            "status": prof.name_of(doc.status, conditions),
            "canonical_status": doc.status,
            "conditions": sorted(conditions),
            "condition_reasons": overdue.describe(doc),
        }

    async def resolve(self, session: AsyncSession, doc: Document, name: str) -> str:
        """The canonical status a client means by ``name`` (a profile name or a canonical one)."""
        prof = await self.profile(session, doc.tenant, doc.direction)
        return prof.target_of(name) or name

    async def next_statuses(self, session: AsyncSession, doc: Document, role: str) -> list[str]:
        prof = await self.profile(session, doc.tenant, doc.direction)
        model = self.model_of(doc)
        if prof.transitions is not None and not model.no_workflow:
            return prof.next_names(prof.name_of(doc.status, conditions_of(doc)), role)
        return [prof.name_of(s) for s in model.next_statuses(doc.status, role)]

    async def _check(self, session: AsyncSession, doc: Document, to: str, role: str) -> None:
        """A client's move follows the tenant's profile when it has its own moves; everything
        else (and every other role) follows the canonical model."""
        model = self.model_of(doc)
        if role in (API, ADMIN) and not model.no_workflow:
            prof = await self.profile(session, doc.tenant, doc.direction)
            if prof.transitions is not None:
                current = prof.name_of(doc.status, conditions_of(doc))
                prof.check(current, prof.name_of(to), role)
                if to not in model.statuses:
                    raise IllegalTransition(doc.status, to, f"'{to}' is not a status here.")
                return
        model.check(doc.status, to, role)

    def model(self, direction: str, kind: str | None = None) -> StatusModel:
        return self.models.get(direction, kind)

    def model_of(self, doc: Document) -> StatusModel:
        return self.models.get(doc.direction, doc.kind)
