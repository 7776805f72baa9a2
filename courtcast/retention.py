"""Retention: public replays expire when their court's retention period has passed.

`expire_replays` is one pass; the server calls it periodically. Each expired replay is withdrawn
like a court order would withdraw it (catalog first, then public storage) with the reason
RETENTION_REASON, and recorded in the audit log as the system's action.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial
from typing import Protocol

from courtcast.catalog.service import RETENTION_REASON, Catalog, CatalogError

log = logging.getLogger("courtcast.retention")


class Withdrawer(Protocol):
    """The part of `courtcast.web.services.BroadcastControl` retention needs."""

    async def withdraw(self, hearing_id: int) -> None: ...


async def expire_replays(
    catalog: Catalog, broadcasts: Withdrawer, now: datetime
) -> list[int]:
    """Withdraw every replay due to expire at `now`; returns the ids withdrawn. A failure on one
    hearing is logged and the others go on (the next pass retries it)."""
    due = await asyncio.to_thread(catalog.replays_due_to_expire, now)
    done: list[int] = []
    for hearing in due:
        hearing_id = int(hearing.id or 0)
        try:
            await _expire(catalog, broadcasts, hearing_id, now)
        except CatalogError as exc:  # e.g. restored or withdrawn meanwhile
            log.info("hearing %s not expired: %s", hearing_id, exc.message)
            continue
        except Exception:
            log.exception("hearing %s: expiring its replay failed", hearing_id)
            continue
        done.append(hearing_id)
    return done


async def _expire(
    catalog: Catalog, broadcasts: Withdrawer, hearing_id: int, now: datetime
) -> None:
    view = await asyncio.to_thread(catalog.hearing_view, hearing_id)
    await asyncio.to_thread(partial(catalog.withdraw, hearing_id, reason=RETENTION_REASON, at=now))
    await broadcasts.withdraw(hearing_id)
    record = partial(
        catalog.record_audit, "hearing.withdraw", None, court_id=view.court.id,
        case_id=view.case.id, hearing_id=hearing_id, at=now,
        details={"from": view.hearing.status, "to": "withdrawn", "reason": RETENTION_REASON,
                 "retention_days": view.court.retention_days},
    )
    await asyncio.to_thread(record)
    log.info("hearing %s: replay expired after %s days", hearing_id, view.court.retention_days)
