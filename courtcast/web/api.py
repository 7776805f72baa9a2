"""The JSON API under /api/v1 (see shared/interface.md: the listed fields must not move).

Catalog calls are synchronous database work, so each handler runs them in a worker thread.
Errors are raised (ApiError, CatalogError, HTTPException) and shaped by `errors.middleware`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from courtcast.catalog.models import Case, Court, Courtroom, HearingStatus
from courtcast.catalog.service import Actor, HearingView
from courtcast.web import actions
from courtcast.web.actions import HEARING_ACTIONS, Who
from courtcast.web.authz import allowed, require
from courtcast.web.context import (
    PUBLIC_STATUSES,
    client_ip,
    page_url,
    playback_url,
    publicly_visible,
    services,
    whip_url,
)
from courtcast.web.record import record_url
from courtcast.web.wire import (
    MAX_ID,
    ApiError,
    Body,
    invalid,
    iso,
    parse_time,
    path_id,
    read_json_object,
)

PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
# Anonymous reads may be cached briefly by a CDN: thousands of viewers poll a hearing's status.
PUBLIC_CACHE = "public, max-age=2"
PRIVATE_CACHE = "private, no-store"

_dumps = partial(json.dumps, ensure_ascii=False)


# --- authentication -----------------------------------------------------------------------


def _unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="courtcast"' + (f', error="{error}"' if error else "")
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


async def caller(request: web.Request) -> Actor | None:
    """The account whose token makes the request, None when anonymous; 401 for a token that is
    unknown, revoked, or of a disabled account."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Authorization must be 'Bearer TOKEN'", "invalid_request")
    found = await asyncio.to_thread(services(request).catalog.token_actor, token)
    if found is None:
        raise _unauthorized("the token is invalid or revoked", "invalid_token")
    return found


async def who(request: web.Request) -> Who:
    """The signed-in caller of a write; 401 when anonymous."""
    found = await caller(request)
    if found is None:
        raise _unauthorized("this request needs 'Authorization: Bearer TOKEN'")
    return Who(found, client_ip(request))


# --- answers ------------------------------------------------------------------------------


def answer(data: dict[str, Any], *, status: int = 200, private: bool = True) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers["Cache-Control"] = PRIVATE_CACHE if private else PUBLIC_CACHE
    response.headers["Vary"] = "Authorization"
    return response


def court_json(court: Court) -> dict[str, Any]:
    return {
        "id": court.id,
        "name": court.name,
        "level": court.level,
        "region": court.region,
        "parent_id": court.parent_id,
        "code": court.code,
        "retention_days": court.retention_days,
        "default_profile": court.default_profile,
        "timestamp_overlay": court.timestamp_overlay,
        "created_at": iso(court.created_at),
    }


def courtroom_json(room: Courtroom) -> dict[str, Any]:
    return {
        "id": room.id,
        "court_id": room.court_id,
        "name": room.name,
        "created_at": iso(room.created_at),
    }


def case_json(case: Case, *, private: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": case.id,
        "court_id": case.court_id,
        "case_number": case.case_number,
        "title": case.title,
        "case_type": case.case_type,
        "cause": case.cause,
        "parties": case.parties,
        "judges": case.judges,
        "created_at": iso(case.created_at),
    }
    if private:  # why a case is not broadcast is the court's business
        data["restriction"] = case.restriction
        data["restriction_reason"] = case.restriction_reason
    return data


async def hearing_answer(
    request: web.Request, view: HearingView, actor: Actor | None
) -> dict[str, Any]:
    """The hearing as `actor` may see it: with ingest details and record_url for its court."""
    private = allowed(actor, "hearing.read_private", view.court.id)
    data = hearing_json(request, view, private=private)
    if private:
        data["record_url"] = await record_url(request, int(view.hearing.id or 0))
    return data


def hearing_json(request: web.Request, view: HearingView, *, private: bool) -> dict[str, Any]:
    hearing = view.hearing
    hid = int(hearing.id or 0)
    data: dict[str, Any] = {
        "id": hid,
        "status": hearing.status,
        "case_id": hearing.case_id,
        "courtroom_id": hearing.courtroom_id,
        "court_id": view.court.id,
        "scheduled_start": iso(hearing.scheduled_start),
        "scheduled_end": iso(hearing.scheduled_end),
        "started_at": iso(hearing.started_at),
        "ended_at": iso(hearing.ended_at),
        "public": hearing.public,
        "delay_seconds": hearing.delay_seconds,
        "profile": hearing.profile,
        "noindex": hearing.noindex,
        "view_count": hearing.view_count,
        "playback_url": playback_url(services(request), hid),
        "page_url": page_url(request, hid),
        "case": case_json(view.case, private=private),
        "court": {"id": view.court.id, "name": view.court.name},
        "courtroom": {"id": view.courtroom.id, "name": view.courtroom.name},
        "created_at": iso(hearing.created_at),
    }
    if private:  # the stream key lets anyone publish into the courtroom's broadcast
        host = request.url.host or request.host
        data["stream_key"] = hearing.stream_key
        data["rtmp_url"] = services(request).broadcasts.rtmp_url(hearing.stream_key, host)
        data["whip_url"] = whip_url(request, hid)
        data["approved_at"] = iso(hearing.approved_at)
        data["approved_by"] = hearing.approved_by
        data["withdrawn_at"] = iso(hearing.withdrawn_at)
        data["withdrawn_reason"] = hearing.withdrawn_reason
    return data


# --- courts, courtrooms, cases ------------------------------------------------------------


def _court_settings(body: Body, court: Court | None = None) -> dict[str, Any]:
    """Retention, default profile and overlay from the body; absent fields keep `court`'s."""
    def keep(name: str, value: Any) -> Any:
        return value if name in body.data else getattr(court, name, None)

    retention = body.data.get("retention_days")
    return {
        "retention_days": keep("retention_days",
                               None if retention is None else body.integer("retention_days")),
        "default_profile": keep("default_profile", body.optional_text("default_profile")),
        "timestamp_overlay": bool(keep("timestamp_overlay",
                                       body.flag("timestamp_overlay", default=False))),
    }


async def create_court(request: web.Request) -> web.Response:
    caller_ = await who(request)
    body = await read_json_object(request)
    court = await actions.create_court(
        services(request),
        caller_,
        name=body.text("name"),
        level=body.text("level"),
        region=body.text("region"),
        parent_id=body.optional_id("parent_id"),
        code=body.text("code", required=False),
        **_court_settings(body),
    )
    return answer(court_json(court), status=201)


async def update_court(request: web.Request) -> web.Response:
    caller_ = await who(request)
    court_id = path_id(request)
    body = await read_json_object(request)
    require(caller_.actor, "court.update", court_id)
    court = await asyncio.to_thread(services(request).catalog.court, court_id)
    updated = await actions.update_court(
        services(request), caller_, court_id, **_court_settings(body, court)
    )
    return answer(court_json(updated))


async def list_courts(request: web.Request) -> web.Response:
    tree = await asyncio.to_thread(services(request).catalog.court_tree)
    items: list[dict[str, Any]] = []
    stack = list(reversed(tree))
    while stack:  # depth-first, parents before their children
        node = stack.pop()
        items.append(court_json(node.court))
        stack.extend(reversed(node.children))
    return answer({"items": items}, private=False)


async def get_court(request: web.Request) -> web.Response:
    court_id = path_id(request)
    catalog = services(request).catalog

    def load() -> dict[str, Any]:
        data = court_json(catalog.court(court_id))
        data["path"] = [{"id": c.id, "name": c.name} for c in catalog.court_path(court_id)]
        data["courtrooms"] = [courtroom_json(r) for r in catalog.courtrooms(court_id)]
        return data

    return answer(await asyncio.to_thread(load), private=False)


async def create_courtroom(request: web.Request) -> web.Response:
    caller_ = await who(request)
    body = await read_json_object(request)
    room = await actions.create_courtroom(
        services(request), caller_, court_id=body.integer("court_id"), name=body.text("name")
    )
    return answer(courtroom_json(room), status=201)


async def create_case(request: web.Request) -> web.Response:
    caller_ = await who(request)
    body = await read_json_object(request)
    case = await actions.create_case(
        services(request),
        caller_,
        court_id=body.integer("court_id"),
        case_number=body.text("case_number"),
        title=body.text("title"),
        case_type=body.text("case_type"),
        cause=body.text("cause"),
        parties=body.text("parties", required=False),
        judges=body.text("judges", required=False),
        restriction=body.optional_text("restriction"),
        restriction_reason=body.text("restriction_reason", required=False),
    )
    return answer(case_json(case, private=True), status=201)


async def get_case(request: web.Request) -> web.Response:
    case_id = path_id(request)
    actor = await caller(request)
    case = await asyncio.to_thread(services(request).catalog.case, case_id)
    private = allowed(actor, "case.read_private", case.court_id)
    if not private and case.restriction is not None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    return answer(case_json(case, private=private), private=actor is not None)


# --- hearings -----------------------------------------------------------------------------


async def create_hearing(request: web.Request) -> web.Response:
    caller_ = await who(request)
    body = await read_json_object(request)
    view = await actions.create_hearing(
        services(request),
        caller_,
        case_id=body.integer("case_id"),
        courtroom_id=body.integer("courtroom_id"),
        scheduled_start=body.time("scheduled_start"),
        scheduled_end=body.time("scheduled_end"),
        public=body.flag("public", default=True),
        delay_seconds=body.integer("delay_seconds", required=False),
        profile=body.optional_text("profile"),  # None: the court's default profile
        noindex=body.flag("noindex", default=False),
    )
    return answer(await hearing_answer(request, view, caller_.actor), status=201)


async def get_hearing(request: web.Request) -> web.Response:
    hearing_id = path_id(request)
    actor = await caller(request)
    view = await asyncio.to_thread(services(request).catalog.hearing_view, hearing_id)
    if not publicly_visible(view) and not allowed(actor, "hearing.read_private", view.court.id):
        raise ApiError(404, "not_found", f"no hearing {hearing_id}")  # existence is not public
    data = await hearing_answer(request, view, actor)
    return answer(data, private=actor is not None)


async def list_hearings(request: web.Request) -> web.Response:
    actor = await caller(request)
    query = _list_query(request, actor)
    views: list[HearingView] = []
    if query["statuses"] != []:
        list_views = partial(services(request).catalog.hearing_views, **query)
        views = await asyncio.to_thread(list_views)
    items = [
        await hearing_answer(request, v, actor)
        for v in views
        if publicly_visible(v) or allowed(actor, "hearing.read_private", v.court.id)
    ]
    data = {"items": items, "limit": query["limit"], "offset": query["offset"]}
    return answer(data, private=actor is not None)


def hearing_action(action: str) -> Handler:
    """POST /hearings/{id}/{action}: approve, cut, resume, end, withdraw, restore, rotate-key."""

    async def handle(request: web.Request) -> web.Response:
        caller_ = await who(request)
        hearing_id = path_id(request)
        reason = ""
        if action == "withdraw":
            reason = (await read_json_object(request)).text("reason")
        view = await actions.hearing_action(
            services(request), caller_, hearing_id, action, reason=reason
        )
        return answer(await hearing_answer(request, view, caller_.actor))

    return handle


# --- query parsing ------------------------------------------------------------------------


def _list_query(request: web.Request, actor: Actor | None) -> dict[str, Any]:
    """Query parameters to `Catalog.hearing_views` arguments; the catalog checks the ranges.
    Administrators see every hearing, clerks the public ones and all of their own courts'."""
    q = request.query
    statuses = _statuses(q.getall("status", []))
    if actor is None:  # withdrawn hearings are never listed publicly; [] means nothing to list
        statuses = [s for s in (statuses or PUBLIC_STATUSES) if s in PUBLIC_STATUSES]
    return {
        "statuses": statuses,
        "public_only": actor is None or not actor.is_admin,
        "also_court_ids": actor.court_ids if actor is not None else frozenset(),
        "court_id": _query_int(q, "court_id"),
        "courtroom_id": _query_int(q, "courtroom_id"),
        "court_level": q.get("court_level") or None,
        "region": q.get("region") or None,
        "case_type": q.get("case_type") or None,
        "cause": q.get("cause") or None,
        "search": q.get("q") or None,
        "start_from": _query_time(q.get("start_from"), "start_from"),
        "start_to": _query_time(q.get("start_to"), "start_to"),
        "order": q.get("order", "start_asc"),
        "limit": _query_int(q, "limit") or DEFAULT_LIMIT,
        "offset": _query_int(q, "offset") or 0,
    }


def _statuses(values: list[str]) -> list[str] | None:
    known = {s.value for s in HearingStatus}
    wanted = [part.strip() for value in values for part in value.split(",") if part.strip()]
    for status in wanted:
        if status not in known:
            raise invalid("status", f"must be one of {', '.join(sorted(known))}")
    return wanted or None


def _query_int(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name, "")
    if text == "":
        return None
    if not text.isdigit() or int(text) > MAX_ID:
        raise invalid(name, "must be a non-negative integer")
    return int(text)


def _query_time(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    # A literal '+' in a query string decodes to a space: "10:00:00 08:00" meant "+08:00".
    return parse_time(re.sub(r" (\d\d:?\d\d)$", r"+\1", text), name)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/courts", create_court)
    r.add_get(f"{PREFIX}/courts", list_courts)
    r.add_get(PREFIX + r"/courts/{id:\d+}", get_court)
    r.add_patch(PREFIX + r"/courts/{id:\d+}", update_court)
    r.add_post(f"{PREFIX}/courtrooms", create_courtroom)
    r.add_post(f"{PREFIX}/cases", create_case)
    r.add_get(PREFIX + r"/cases/{id:\d+}", get_case)
    r.add_post(f"{PREFIX}/hearings", create_hearing)
    r.add_get(f"{PREFIX}/hearings", list_hearings)
    r.add_get(PREFIX + r"/hearings/{id:\d+}", get_hearing)
    for action in HEARING_ACTIONS:
        path = PREFIX + r"/hearings/{id:\d+}/" + action.replace("_", "-")
        r.add_post(path, hearing_action(action))
