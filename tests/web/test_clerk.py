"""The clerk's desk, scheduling and one hearing's controls, with a fake broadcast pipeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from courtcast.catalog.service import AuditQuery, Catalog
from courtcast.web.render import DISPLAY_ZONE
from tests.web.conftest import FakeBroadcasts, Seed, Staff

Client = TestClient[Any, Any]


def as_(staff: Staff, who: str) -> dict[str, str]:
    return {"Cookie": f"courtcast_session={staff.cookies[who]}"}


async def get(client: Client, path: str, staff: Staff, who: str = "clerk") -> str:
    response = await client.get(path, headers=as_(staff, who))
    text = await response.text()
    assert response.status == 200, text[:1000]
    return text


async def act(
    client: Client, staff: Staff, path: str, status: int = 303, who: str = "clerk",
    **form: Any,
) -> Any:
    response = await client.post(path, headers=as_(staff, who), allow_redirects=False,
                                 data={"csrf_token": staff.csrf[who], **form})
    assert response.status == status, (await response.text())[:2000]
    return response


async def test_desk_lists_the_clerks_courts_only(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    html = await get(client, "/clerk", staff)
    for hearing in (seed.live, seed.private, seed.restricted, seed.scheduled):
        assert f'href="/clerk/hearings/{hearing}"' in html  # hidden ones too: their court's
    assert "badge-restricted" in html  # the juvenile case, flagged
    other = await get(client, "/clerk", staff, "other_clerk")
    assert "/clerk/hearings/" not in other.replace('href="/clerk/hearings/new"', "")


async def test_scheduling_reads_court_local_time(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    form = await get(client, "/clerk/hearings/new", staff)
    assert 'name="scheduled_start" type="datetime-local"' in form
    assert "Sealed juvenile matter" not in form  # a restricted case has nothing to schedule
    response = await act(client, staff, "/clerk/hearings", case_id=seed.case,
                         courtroom_id=seed.courtroom, scheduled_start="2026-11-21T09:30",
                         scheduled_end="2026-11-21T12:00", delay_seconds="600", noindex="on")
    hearing_id = int(re.findall(r"/clerk/hearings/(\d+)", response.headers["Location"])[0])
    hearing = catalog.hearing(hearing_id)
    local = datetime(2026, 11, 21, 9, 30, tzinfo=DISPLAY_ZONE).astimezone(UTC)
    assert hearing.scheduled_start == local.replace(tzinfo=None)
    assert (hearing.delay_seconds, hearing.noindex, hearing.public) == (600, True, False)
    assert hearing.approved_at is None and hearing.profile == "passthrough"
    page = await get(client, response.headers["Location"], staff)
    assert "The hearing is scheduled. It is broadcast only after approval." in page


async def test_scheduling_errors_are_shown_with_the_form(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    before = len(catalog.hearing_views(public_only=False))
    response = await act(client, staff, "/clerk/hearings", status=400, case_id=seed.case,
                         courtroom_id=seed.courtroom, scheduled_start="2026-11-21T12:00",
                         scheduled_end="2026-11-21T09:00", delay_seconds="0")
    assert "scheduled_end must be after scheduled_start" in await response.text()
    await act(client, staff, "/clerk/hearings", status=400, case_id=seed.case,
              courtroom_id=seed.courtroom, scheduled_start="soon", scheduled_end="later")
    assert len(catalog.hearing_views(public_only=False)) == before


async def test_registering_a_case_then_scheduling_it(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    response = await act(client, staff, "/clerk/cases", court_id=seed.court,
                         case_number="(2026)京0105民初555号", title="买卖合同纠纷",
                         case_type="civil", cause="contract dispute", restriction="")
    case = catalog.case_by_number("(2026)京0105民初555号")
    assert case is not None
    assert response.headers["Location"] == f"/clerk/hearings/new?case_id={case.id}"
    restricted = await act(client, staff, "/clerk/cases", court_id=seed.court,
                           case_number="(2026)京0105刑初556号", title="t", case_type="criminal",
                           cause="theft", restriction="juvenile", restriction_reason="a minor")
    assert restricted.headers["Location"] == "/clerk?done=case_restricted"


async def test_hearing_page_hands_out_ingest_details_and_the_record(
    client: Client, seed: Seed, staff: Staff, catalog: Catalog
) -> None:
    html = await get(client, f"/clerk/hearings/{seed.scheduled}", staff)
    hearing = catalog.hearing(seed.scheduled)
    host = client.server.host
    assert f'<code id="rtmp-server">rtmp://{host}:1935/live</code>' in html
    assert f'<code id="stream-key">{hearing.stream_key}</code>' in html
    assert f"/api/v1/hearings/{seed.scheduled}/whip" in html
    assert re.search(rf'data-record-url="http://[^"]+/record/{seed.scheduled}/\d+\.[0-9a-f]+/'
                     r'master.m3u8"', html)
    assert '<script src="/static/record-monitor.js"></script>' in html
    assert 'id="approve"' not in html  # approved already (by the seed)
    assert 'id="cut"' not in html  # not live


async def test_cut_resume_end_withdraw_restore(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts
) -> None:
    base = f"/clerk/hearings/{seed.live}"
    assert 'id="cut"' in await get(client, base, staff)
    for action, status in (("cut", "interrupted"), ("resume", "live"), ("end", "ended")):
        response = await act(client, staff, f"{base}/{action}")
        assert response.headers["Location"] == f"{base}?done={action}"
        assert catalog.hearing(seed.live).status == status
    await act(client, staff, f"{base}/withdraw", reason="court order 17")
    hearing = catalog.hearing(seed.live)
    assert (hearing.status, hearing.withdrawn_reason) == ("withdrawn", "court order 17")
    page = await get(client, f"{base}?done=withdraw", staff)
    assert "The hearing is withdrawn from the public." in page and "court order 17" in page
    assert (await client.get(f"/hearings/{seed.live}")).status == 404
    await act(client, staff, f"{base}/restore")
    assert catalog.hearing(seed.live).status == "ended"
    assert broadcasts.calls == [(name, seed.live) for name in
                                ("cut", "resume", "end", "withdraw", "restore")]
    history = [e.action for e in catalog.audit_entries(AuditQuery(hearing_id=seed.live))]
    assert history == ["hearing.restore", "hearing.withdraw", "hearing.end", "hearing.resume",
                       "hearing.cut"]


async def test_refusals_are_explained_on_the_page(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts
) -> None:
    response = await act(client, staff, f"/clerk/hearings/{seed.restricted}/approve", status=409)
    assert "is restricted (juvenile)" in await response.text()
    response = await act(client, staff, f"/clerk/hearings/{seed.scheduled}/cut", status=409)
    assert "only a live hearing can be cut" in await response.text()
    response = await act(client, staff, f"/clerk/hearings/{seed.ended}/withdraw", status=400,
                         reason=" ")
    assert "needs a reason" in await response.text()
    assert catalog.hearing(seed.ended).status == "ended"
    assert broadcasts.calls == []


async def test_approving_and_rotating_the_key(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    hearing = catalog.create_hearing(
        case_id=seed.case, courtroom_id=seed.courtroom,
        scheduled_start=datetime.now(UTC) + timedelta(hours=1),
        scheduled_end=datetime.now(UTC) + timedelta(hours=2))
    base = f"/clerk/hearings/{hearing.id}"
    page = await get(client, base, staff)
    assert 'id="approve"' in page and "Awaiting approval" in page
    assert 'id="approve"' not in await get(client, base, staff, "plain_clerk")
    await act(client, staff, f"{base}/approve")
    approved = catalog.hearing(hearing.id or 0)
    assert approved.approved_by == staff.clerk
    assert "clerk.li" in await get(client, base, staff)
    await act(client, staff, f"{base}/rotate-key")
    assert catalog.hearing(hearing.id or 0).stream_key != hearing.stream_key
    (entry,) = catalog.audit_entries(AuditQuery(action="hearing.rotate_key"))
    assert hearing.stream_key not in entry.details
