"""The clerk's desk: today's and upcoming hearings, scheduling, and one hearing's controls
(ingest details, key rotation, the record monitor, approve, cut/resume, end, withdraw/restore).

Rights are checked by `actions` and `authz`, exactly as for the JSON API.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from aiohttp import web

from courtcast.catalog.models import Case, Court, Courtroom, HearingStatus, Profile, Restriction
from courtcast.catalog.service import (
    MAX_DELAY_SECONDS,
    Actor,
    AuditQuery,
    Catalog,
    CatalogError,
    HearingView,
    Invalid,
    SignedIn,
)
from courtcast.web import actions
from courtcast.web.authz import allowed, require
from courtcast.web.context import playback_url, services, whip_url
from courtcast.web.record import record_url
from courtcast.web.render import DISPLAY_ZONE
from courtcast.web.session import Form, checked_form, require_staff
from courtcast.web.staff import int_field, page_id, render_staff, see_other, text_field, who_of

S = HearingStatus
UPCOMING_DAYS = 30
LIST_LIMIT = 200
CATALOG_STATUS = {"not_found": 404, "invalid": 400}  # anything else refused is a conflict


def _courts_of(actor: Actor) -> frozenset[int] | None:
    """The courts whose hearings the actor's desk lists: None for all (administrators)."""
    return None if actor.is_admin else actor.court_ids


# --- the desk -------------------------------------------------------------------------------


@dataclass
class Desk:
    live: list[HearingView]
    today: list[HearingView]
    upcoming: list[HearingView]
    recent: list[HearingView]


def _load_desk(catalog: Catalog, courts: frozenset[int] | None, now: datetime) -> Desk:
    day = datetime.combine(now.astimezone(DISPLAY_ZONE).date(), time(), DISPLAY_ZONE)
    views = partial(catalog.hearing_views, public_only=False, court_ids=courts, limit=LIST_LIMIT)
    return Desk(
        live=views(statuses=[S.LIVE, S.INTERRUPTED]),
        today=views(start_from=day, start_to=day + timedelta(days=1)),
        upcoming=views(start_from=day + timedelta(days=1),
                       start_to=day + timedelta(days=UPCOMING_DAYS)),
        recent=views(statuses=[S.ENDED, S.WITHDRAWN], order="ended_desc", limit=20),
    )


async def desk(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    load = partial(_load_desk, services(request).catalog, _courts_of(signed.actor),
                   datetime.now(DISPLAY_ZONE))
    return render_staff(request, signed, "clerk_desk.html", desk=await asyncio.to_thread(load))


# --- scheduling -----------------------------------------------------------------------------


@dataclass
class Choices:
    courts: list[Court]
    cases: list[Case]
    rooms: list[Courtroom]


def _load_choices(catalog: Catalog, courts: frozenset[int] | None) -> Choices:
    return Choices(
        courts=[c for c in catalog.courts() if courts is None or c.id in courts],
        cases=[c for c in catalog.cases(court_ids=courts) if c.restriction is None],
        rooms=catalog.courtrooms_of(courts),
    )


async def _form_page(
    request: web.Request, signed: SignedIn, template: str, *, values: dict[str, Any],
    error: str = "", status: int = 200,
) -> web.Response:
    load = partial(_load_choices, services(request).catalog, _courts_of(signed.actor))
    choices = await asyncio.to_thread(load)
    return render_staff(
        request, signed, template, status=status, choices=choices, values=values, error=error,
        profiles=[p.value for p in Profile], restrictions=[r.value for r in Restriction],
        max_delay=MAX_DELAY_SECONDS,
    )


async def schedule_form(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    values = {"case_id": request.query.get("case_id", ""), "public": True, "delay_seconds": 0}
    return await _form_page(request, signed, "clerk_schedule.html", values=values)


def local_time(form: Form, name: str) -> datetime:
    """A datetime-local input (court-local wall time, as the form says) as an aware time."""
    text = text_field(form, name)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=DISPLAY_ZONE)
    except ValueError:
        raise Invalid(f"{name}: not a date and time: {text!r}", field=name) from None


def _hearing_fields(form: Form) -> dict[str, Any]:
    delay = text_field(form, "delay_seconds") or "0"
    if not delay.isdigit():
        raise Invalid("delay_seconds must be a whole number of seconds", field="delay_seconds")
    return {
        "case_id": int_field(form, "case_id") or 0,
        "courtroom_id": int_field(form, "courtroom_id") or 0,
        "scheduled_start": local_time(form, "scheduled_start"),
        "scheduled_end": local_time(form, "scheduled_end"),
        "public": form.get("public") == "on",
        "noindex": form.get("noindex") == "on",
        "delay_seconds": int(delay),
        "profile": text_field(form, "profile") or None,  # the court's default
    }


async def schedule(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    form = await checked_form(request, signed)
    try:
        fields = _hearing_fields(form)
        view = await actions.create_hearing(services(request), who_of(request, signed), **fields)
    except CatalogError as exc:
        values: dict[str, Any] = {key: text_field(form, key) for key in form}
        values["public"] = form.get("public") == "on"
        return await _form_page(request, signed, "clerk_schedule.html", values=values,
                                error=exc.message, status=CATALOG_STATUS.get(exc.code, 409))
    return see_other(f"/clerk/hearings/{view.hearing.id}?done=create")


async def case_form(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    return await _form_page(request, signed, "clerk_case.html", values={})


async def create_case(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    form = await checked_form(request, signed)
    fields = {key: text_field(form, key) for key in (
        "case_number", "title", "case_type", "cause", "parties", "judges", "restriction_reason")}
    try:
        case = await actions.create_case(
            services(request), who_of(request, signed), court_id=int_field(form, "court_id") or 0,
            restriction=text_field(form, "restriction") or None, **fields)
    except CatalogError as exc:
        values = {key: text_field(form, key) for key in form}
        return await _form_page(request, signed, "clerk_case.html", values=values,
                                error=exc.message, status=CATALOG_STATUS.get(exc.code, 409))
    if case.restriction is not None:  # never broadcast: nothing to schedule
        return see_other("/clerk?done=case_restricted")
    return see_other(f"/clerk/hearings/new?case_id={case.id}")


# --- one hearing ----------------------------------------------------------------------------


async def hearing_page(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    return await _hearing_page(request, signed, page_id(request))


async def _hearing_page(
    request: web.Request, signed: SignedIn, hearing_id: int, *, error: str = "",
    status: int = 200,
) -> web.Response:
    svc = services(request)
    view = await asyncio.to_thread(svc.catalog.hearing_view, hearing_id)
    require(signed.actor, "hearing.read_private", view.court.id)
    hearing = view.hearing
    approver = None
    if hearing.approved_by is not None:
        approver = await asyncio.to_thread(svc.catalog.account, hearing.approved_by)
    history = await asyncio.to_thread(
        partial(svc.catalog.audit_entries, AuditQuery(hearing_id=hearing_id), limit=50))
    rtmp = svc.broadcasts.rtmp_url(hearing.stream_key, request.url.host or request.host)
    may = {action: allowed(signed.actor, f"hearing.{action}", view.court.id)
           for action in actions.HEARING_ACTIONS}
    return render_staff(
        request, signed, "clerk_hearing.html", status=status, view=view, approver=approver,
        history=history, may=may, error=error, done=request.query.get("done", ""),
        rtmp_url=rtmp, rtmp_server=rtmp.rsplit("/", 1)[0], whip_url=whip_url(request, hearing_id),
        record_url=await record_url(request, hearing_id),
        playback_url=playback_url(svc, hearing_id),
    )


async def hearing_action(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    form = await checked_form(request, signed)
    hearing_id = page_id(request)
    action = request.match_info["action"].replace("-", "_")
    try:
        await actions.hearing_action(services(request), who_of(request, signed), hearing_id,
                                     action, reason=text_field(form, "reason"))
    except CatalogError as exc:
        if exc.code == "not_found":
            raise
        return await _hearing_page(request, signed, hearing_id, error=exc.message,
                                   status=CATALOG_STATUS.get(exc.code, 409))
    return see_other(f"/clerk/hearings/{hearing_id}?done={action}")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/clerk", desk)
    r.add_get("/clerk/hearings/new", schedule_form)
    r.add_post("/clerk/hearings", schedule)
    r.add_get("/clerk/cases/new", case_form)
    r.add_post("/clerk/cases", create_case)
    r.add_get(r"/clerk/hearings/{id:\d+}", hearing_page)
    names = "|".join(a.replace("_", "-") for a in actions.HEARING_ACTIONS)
    r.add_post(r"/clerk/hearings/{id:\d+}/{action:" + names + "}", hearing_action)
