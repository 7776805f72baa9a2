"""Clerk and administrator actions, shared by the JSON API and the pages.

Each action checks the actor's rights (`authz`), then the hearing's state, does the work
(catalog, then the broadcast pipeline) and appends an audit entry, so API and pages cannot
differ in who may do what or in what gets recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from courtcast.catalog.models import Account, Case, Court, Courtroom, HearingStatus, Role
from courtcast.catalog.service import Actor, CatalogError, Conflict, HearingView, Invalid
from courtcast.web.authz import require
from courtcast.web.services import WebServices

log = logging.getLogger("courtcast.web")

S = HearingStatus
HEARING_ACTIONS = ("approve", "cut", "resume", "end", "withdraw", "restore", "rotate_key")


@dataclass(frozen=True)
class Who:
    """The actor of a request and where it came from."""

    actor: Actor
    ip: str


async def audit(
    svc: WebServices,
    who: Who,
    action: str,
    *,
    view: HearingView | None = None,
    court_id: int | None = None,
    case_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    record = partial(
        svc.catalog.record_audit,
        action,
        who.actor,
        ip=who.ip,
        court_id=view.court.id if view else court_id,
        case_id=view.case.id if view else case_id,
        hearing_id=view.hearing.id if view else None,
        details=details,
    )
    await asyncio.to_thread(record)


# --- courts, courtrooms, cases, hearings ----------------------------------------------------


async def create_court(svc: WebServices, who: Who, **fields: Any) -> Court:
    require(who.actor, "court.create")
    court = await asyncio.to_thread(partial(svc.catalog.create_court, **fields))
    await audit(svc, who, "court.create", court_id=court.id, details=_jsonable(fields))
    return court


async def update_court(svc: WebServices, who: Who, court_id: int, **settings: Any) -> Court:
    require(who.actor, "court.update", court_id)
    update = partial(svc.catalog.update_court_settings, court_id, **settings)
    court = await asyncio.to_thread(update)
    await audit(svc, who, "court.update", court_id=court_id, details=settings)
    return court


async def create_courtroom(svc: WebServices, who: Who, *, court_id: int, name: str) -> Courtroom:
    require(who.actor, "courtroom.create", court_id)
    create = partial(svc.catalog.create_courtroom, court_id=court_id, name=name)
    room = await asyncio.to_thread(create)
    details = {"courtroom_id": room.id, "name": room.name}
    await audit(svc, who, "courtroom.create", court_id=court_id, details=details)
    return room


async def create_case(svc: WebServices, who: Who, *, court_id: int, **fields: Any) -> Case:
    require(who.actor, "case.create", court_id)
    case = await asyncio.to_thread(partial(svc.catalog.create_case, court_id=court_id, **fields))
    details = {"case_number": case.case_number, "restriction": case.restriction}
    await audit(svc, who, "case.create", court_id=court_id, case_id=case.id, details=details)
    return case


async def create_hearing(svc: WebServices, who: Who, *, case_id: int, **fields: Any) -> HearingView:
    catalog = svc.catalog
    case = await asyncio.to_thread(catalog.case, case_id)
    require(who.actor, "hearing.create", case.court_id)

    def create() -> HearingView:
        hearing = catalog.create_hearing(case_id=case_id, **fields)
        return catalog.hearing_view(int(hearing.id or 0))

    view = await asyncio.to_thread(create)
    hearing = view.hearing
    details = {
        "courtroom_id": hearing.courtroom_id,
        "scheduled_start": hearing.scheduled_start,
        "scheduled_end": hearing.scheduled_end,
        "public": hearing.public,
        "delay_seconds": hearing.delay_seconds,
        "profile": hearing.profile,
        "noindex": hearing.noindex,
    }
    await audit(svc, who, "hearing.create", view=view, details=details)
    return view


# --- accounts ----------------------------------------------------------------------------------


async def create_account(
    svc: WebServices, who: Who, *, password: str | None, **fields: Any
) -> Account:
    require(who.actor, "account.manage")
    create = partial(svc.catalog.create_account, password=password, **fields)
    account = await asyncio.to_thread(create)
    await audit(svc, who, "account.create", details={"account_id": account.id, **fields})
    return account


async def update_account(
    svc: WebServices, who: Who, account_id: int, *, password: str | None = None,
    **changes: Any,
) -> Account:
    """Change what is given (None: unchanged); an administrator cannot lock themselves out."""
    require(who.actor, "account.manage")
    demoted = changes.get("role") not in (None, Role.ADMIN)
    if account_id == who.actor.account_id and (changes.get("disabled") or demoted):
        raise Conflict("You cannot disable or demote your own account.")
    def update() -> Account:
        # It owns command-line tokens and must never sign in or change role.
        if svc.catalog.builtin_admin().id == account_id:
            raise Conflict("the built-in account cannot be changed")
        return svc.catalog.update_account(account_id, password=password, **changes)

    account = await asyncio.to_thread(update)
    details = {"account_id": account_id, "password_changed": password is not None, **changes}
    await audit(svc, who, "account.update", details=details)
    return account


def _jsonable(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}


# --- what clerks do to a hearing ------------------------------------------------------------

Perform = Callable[[WebServices, Who, HearingView, str], Awaitable[dict[str, Any]]]


async def _approve(svc: WebServices, who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    approve = partial(svc.catalog.approve_hearing, _id(view), account_id=who.actor.account_id)
    hearing = await asyncio.to_thread(approve)
    return {"approved_by": hearing.approved_by, "already": view.hearing.approved_at is not None}


def _expect(view: HearingView, status: str, what: str) -> None:
    if view.hearing.status != status:
        raise Conflict(f"hearing {view.hearing.id} is {view.hearing.status}: only a {status} "
                       f"hearing can be {what}")


async def _cut(svc: WebServices, _who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    _expect(view, S.LIVE, "cut")
    await svc.broadcasts.cut(_id(view))
    return {}


async def _resume(svc: WebServices, _who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    _expect(view, S.INTERRUPTED, "resumed")
    await svc.broadcasts.resume(_id(view))
    return {}


async def _end(svc: WebServices, _who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    await svc.broadcasts.end_hearing(_id(view))
    return {}


async def _withdraw(svc: WebServices, _who: Who, view: HearingView, reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise Invalid("reason: a withdrawal needs a reason (e.g. the court order)", field="reason")
    # The catalog first: portal, API and search drop it at once, whatever storage takes.
    await asyncio.to_thread(partial(svc.catalog.withdraw, _id(view), reason=reason))
    await svc.broadcasts.withdraw(_id(view))
    return {"reason": reason.strip()}


async def _restore(svc: WebServices, _who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    await asyncio.to_thread(svc.catalog.restore, _id(view))
    await svc.broadcasts.restore(_id(view))
    return {"withdrawn_reason": view.hearing.withdrawn_reason}


async def _rotate(svc: WebServices, _who: Who, view: HearingView, _reason: str) -> dict[str, Any]:
    await asyncio.to_thread(svc.catalog.rotate_stream_key, _id(view))
    return {}  # never the key itself: the log is readable by every administrator


PERFORM: dict[str, Perform] = {
    "approve": _approve,
    "cut": _cut,
    "resume": _resume,
    "end": _end,
    "withdraw": _withdraw,
    "restore": _restore,
    "rotate_key": _rotate,
}


def _id(view: HearingView) -> int:
    return int(view.hearing.id or 0)


async def hearing_action(
    svc: WebServices, who: Who, hearing_id: int, action: str, *, reason: str = ""
) -> HearingView:
    """Do `action` (one of HEARING_ACTIONS) to the hearing; the hearing as it is afterwards."""
    view = await asyncio.to_thread(svc.catalog.hearing_view, hearing_id)
    require(who.actor, f"hearing.{action}", view.court.id)
    try:
        details = await PERFORM[action](svc, who, view, reason)
    except CatalogError:
        raise  # refused before anything changed: nothing to record
    except Exception as exc:
        # The pipeline failed midway (e.g. storage): the attempt is on record all the same.
        log.exception("hearing %s: %s failed", hearing_id, action)
        await audit(svc, who, f"hearing.{action}", view=view, details={"failed": repr(exc)})
        raise
    after = await asyncio.to_thread(svc.catalog.hearing_view, hearing_id)
    details = {"from": view.hearing.status, "to": after.hearing.status, **details}
    await audit(svc, who, f"hearing.{action}", view=after, details=details)
    return after
