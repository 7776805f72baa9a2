"""The audit log: who did what, when, from where, to which court, case or hearing.

Append-only by construction: this module only inserts and reads, and migration 0002 adds
triggers (SQLite and PostgreSQL) that refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from courtcast.catalog.accounts import SYSTEM_ACTOR, Actor
from courtcast.catalog.common import CatalogBase, integer, text, to_naive_utc
from courtcast.catalog.models import AuditEntry, utcnow

MAX_AUDIT_PAGE = 1000
_EXPORT_BATCH = 1000


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the log; None means any. `start` <= at < `end`."""

    actor: str | None = None  # user name, exact
    action: str | None = None  # exact, or a prefix ending in "." ("hearing.")
    court_id: int | None = None
    case_id: int | None = None
    hearing_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def filters(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.actor:
            found.append(col(AuditEntry.actor) == self.actor.strip().lower())
        if self.action and self.action.endswith("."):
            found.append(col(AuditEntry.action).startswith(self.action, autoescape=True))
        elif self.action:
            found.append(col(AuditEntry.action) == self.action)
        for column, value in (
            (AuditEntry.court_id, self.court_id),
            (AuditEntry.case_id, self.case_id),
            (AuditEntry.hearing_id, self.hearing_id),
        ):
            if value is not None:
                found.append(col(column) == value)
        if self.start is not None:
            found.append(col(AuditEntry.at) >= to_naive_utc(self.start))
        if self.end is not None:
            found.append(col(AuditEntry.at) < to_naive_utc(self.end))
        return found


class AuditMixin(CatalogBase):
    def record_audit(
        self,
        action: str,
        actor: Actor | None,
        *,
        ip: str = "",
        court_id: int | None = None,
        case_id: int | None = None,
        hearing_id: int | None = None,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        actor_name: str = SYSTEM_ACTOR,
    ) -> AuditEntry:
        """Append one entry. Without an `actor` it is `actor_name`'s: the system itself (e.g.
        retention) or "anonymous" (a failed sign-in)."""
        entry = AuditEntry(
            at=to_naive_utc(at) if at is not None else utcnow(),
            account_id=actor.account_id if actor else None,
            actor=actor.username if actor else actor_name[:100],
            action=text(AuditEntry, "action", action),
            ip=ip[:64],
            court_id=court_id,
            case_id=case_id,
            hearing_id=hearing_id,
            details=json.dumps(dict(details or {}), ensure_ascii=False, default=str),
        )
        with self._session() as session:
            return self._insert(session, entry)

    def audit_entries(
        self, query: AuditQuery | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[AuditEntry]:
        """Entries matching `query`, newest first."""
        integer("limit", limit, 1, MAX_AUDIT_PAGE)
        integer("offset", offset, 0, 2**31 - 1)
        statement = (
            select(AuditEntry)
            .where(*(query or AuditQuery()).filters())
            .order_by(col(AuditEntry.id).desc())
            .limit(limit)
            .offset(offset)
        )
        with self._session() as session:
            return list(session.exec(statement))

    def iter_audit(self, query: AuditQuery | None = None) -> Iterator[AuditEntry]:
        """Every entry matching `query`, oldest first, read in batches (for exports)."""
        after = 0
        filters = (query or AuditQuery()).filters()
        while True:
            statement = (
                select(AuditEntry)
                .where(*filters, col(AuditEntry.id) > after)
                .order_by(col(AuditEntry.id))
                .limit(_EXPORT_BATCH)
            )
            with self._session() as session:
                batch = list(session.exec(statement))
            yield from batch
            if len(batch) < _EXPORT_BATCH:
                return
            after = batch[-1].id or 0

    def audit_actions(self) -> list[str]:
        """The distinct actions in the log, for filter menus."""
        statement = select(AuditEntry.action).distinct().order_by(col(AuditEntry.action))
        with self._session() as session:
            return list(session.exec(statement))
