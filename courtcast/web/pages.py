"""Portal pages: home (live, schedule, replays), hearing player, court browser."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from courtcast.catalog.models import Court, Courtroom, HearingStatus
from courtcast.catalog.service import Catalog, CourtNode, HearingView
from courtcast.web.context import playback_url, publicly_visible, services
from courtcast.web.render import DISPLAY_ZONE, render
from courtcast.web.wire import MAX_ID, as_utc

HOME_LIVE = 24
HOME_UPCOMING = 60
HOME_REPLAYS = 12
COURT_LIST = 50
STATUS_POLL_SECONDS = 5  # scheduled hearings poll the (CDN-cacheable) API at about this pace


def _page_id(request: web.Request) -> int:
    value = int(request.match_info["id"])  # the route admits digits only
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


def _public(views: Iterable[HearingView]) -> list[HearingView]:
    return [view for view in views if publicly_visible(view)]


def _local_date(value: datetime) -> date:
    return as_utc(value).astimezone(DISPLAY_ZONE).date()


def schedule_by_day(views: Sequence[HearingView]) -> list[tuple[date, list[HearingView]]]:
    """Upcoming hearings grouped by the court-local day they start on, in order."""
    days: dict[date, list[HearingView]] = {}
    for view in views:
        days.setdefault(_local_date(view.hearing.scheduled_start), []).append(view)
    return sorted(days.items())


def _days() -> dict[str, Any]:
    """`today` and `tomorrow` in court-local time, for the schedule's day headings."""
    today = datetime.now(DISPLAY_ZONE).date()
    return {"today": today, "tomorrow": today + timedelta(days=1)}


async def home(request: web.Request) -> web.Response:
    catalog = services(request).catalog
    now = datetime.now(UTC)

    def load() -> tuple[list[HearingView], list[HearingView], list[HearingView]]:
        return (
            catalog.live_now(limit=HOME_LIVE),
            catalog.upcoming(now=now, limit=HOME_UPCOMING),
            catalog.recent_replays(limit=HOME_REPLAYS),
        )

    live, upcoming, replays = await asyncio.to_thread(load)
    return render(
        request,
        "home.html",
        live=_public(live),
        schedule=schedule_by_day(_public(upcoming)),
        replays=_public(replays),
        **_days(),
    )


def _start_time(request: web.Request) -> float | None:
    """The `?t=SECONDS` of a shared 'link to this moment', if it is a usable number."""
    try:
        value = float(request.query.get("t", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


async def hearing_page(request: web.Request) -> web.Response:
    hearing_id = _page_id(request)
    svc = services(request)

    def load() -> HearingView:
        view = svc.catalog.hearing_view(hearing_id)
        if not publicly_visible(view):
            raise web.HTTPNotFound()  # a hidden hearing looks exactly like a missing one
        svc.catalog.add_view(hearing_id)  # once per page load, never per media request
        return view

    view = await asyncio.to_thread(load)
    response = render(
        request,
        "hearing.html",
        view=view,
        playback_url=playback_url(svc, hearing_id),
        status_url=f"/api/v1/hearings/{hearing_id}",
        start_time=_start_time(request),
        poll_seconds=STATUS_POLL_SECONDS,
    )
    if view.hearing.noindex:  # also for crawlers that do not read the page's meta tag
        response.headers["X-Robots-Tag"] = "noindex"
    return response


@dataclass
class CourtPage:
    court: Court
    path: list[Court]
    courtrooms: list[Courtroom]
    children: list[Court]
    live: list[HearingView] = field(default_factory=list)
    upcoming: list[HearingView] = field(default_factory=list)
    replays: list[HearingView] = field(default_factory=list)


def _find(nodes: Sequence[CourtNode], court_id: int) -> CourtNode | None:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.court.id == court_id:
            return node
        stack.extend(node.children)
    return None


def _load_court(catalog: Catalog, court_id: int, now: datetime) -> CourtPage:
    court = catalog.court(court_id)
    node = _find(catalog.court_tree(), court_id)
    page = CourtPage(
        court=court,
        path=[c for c in catalog.court_path(court_id) if c.id != court_id],
        courtrooms=catalog.courtrooms(court_id),
        children=[child.court for child in node.children] if node else [],
    )
    views: dict[str, Any] = {"court_id": court_id, "public_only": True, "limit": COURT_LIST}
    live = [HearingStatus.LIVE.value, HearingStatus.INTERRUPTED.value]
    page.live = _public(catalog.hearing_views(statuses=live, **views))
    scheduled = [HearingStatus.SCHEDULED.value]
    page.upcoming = _public(catalog.hearing_views(statuses=scheduled, start_from=now, **views))
    ended = [HearingStatus.ENDED.value]
    page.replays = _public(catalog.hearing_views(statuses=ended, order="start_desc", **views))
    return page


async def court_page(request: web.Request) -> web.Response:
    court_id = _page_id(request)
    catalog = services(request).catalog
    page = await asyncio.to_thread(_load_court, catalog, court_id, datetime.now(UTC))
    schedule = schedule_by_day(page.upcoming)
    return render(request, "court.html", page=page, schedule=schedule, **_days())


async def courts_page(request: web.Request) -> web.Response:
    tree = await asyncio.to_thread(services(request).catalog.court_tree)
    return render(request, "courts.html", tree=tree)


def setup(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get(r"/hearings/{id:\d+}", hearing_page)
    app.router.add_get("/courts", courts_page)
    app.router.add_get(r"/courts/{id:\d+}", court_page)
