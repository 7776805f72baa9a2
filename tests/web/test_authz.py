"""The authorization matrix: every write of the API and every page action, for an anonymous
caller, a clerk of another court, a clerk of the court and an administrator; plus the approval
right, CSRF failures and tokens or sessions of revoked or disabled accounts.

Each refused request must leave everything as it was: no catalog change, no pipeline call, no
audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from courtcast.catalog.service import AuditQuery, Catalog
from tests.web.conftest import FakeBroadcasts, Seed, Staff

Client = TestClient[Any, Any]
ACTORS = ("anonymous", "other_clerk", "clerk", "admin")
LOGIN = -1  # a page answer: 303 to the sign-in page
START = datetime.now(UTC) + timedelta(days=2)


def make_hearing(catalog: Catalog, seed: Seed, state: str | None) -> int:
    """A hearing of the seed's case in `state` (None: the seed's scheduled one)."""
    if state is None:
        return seed.scheduled
    hearing = catalog.create_hearing(
        case_id=seed.case, courtroom_id=seed.courtroom,
        scheduled_start=START, scheduled_end=START + timedelta(hours=1))
    hid = hearing.id or 0
    if state == "unapproved":
        return hid
    catalog.approve_hearing(hid, account_id=catalog.builtin_admin().id or 0)
    steps = {"scheduled": [], "live": ["live"], "interrupted": ["live", "interrupted"],
             "ended": ["live", "ended"], "withdrawn": ["live", "ended"]}[state]
    for status in steps:
        catalog.set_status(hid, status)
    if state == "withdrawn":
        catalog.withdraw(hid, reason="court order")
    return hid


Fill = Callable[[Seed, Staff, int], dict[str, Any]]


@dataclass(frozen=True)
class Write:
    name: str
    method: str
    path: str  # {hearing}, {court}, {account} are filled in
    body: Fill | None
    state: str | None  # the hearing's state beforehand
    action: str  # the audit action a success records
    expect: tuple[int, int, int, int]  # by ACTORS

    def url(self, seed: Seed, staff: Staff, hearing: int) -> str:
        return self.path.format(hearing=hearing, court=seed.court, account=staff.plain_clerk)


def case_body(seed: Seed, _staff: Staff, _hearing: int) -> dict[str, Any]:
    return {"court_id": seed.court, "case_number": "(2026)京0105民初777号", "title": "t",
            "case_type": "civil", "cause": "contract dispute"}


def hearing_body(seed: Seed, _staff: Staff, _hearing: int) -> dict[str, Any]:
    return {"case_id": seed.case, "courtroom_id": seed.courtroom,
            "scheduled_start": START.isoformat(),
            "scheduled_end": (START + timedelta(hours=1)).isoformat()}


ANY_CLERK = (401, 403, 200, 200)
API_WRITES = [
    Write("create court", "POST", "/api/v1/courts",
          lambda *_: {"name": "新法院", "level": "basic", "region": "北京市"}, None,
          "court.create", (401, 403, 403, 201)),
    Write("court settings", "PATCH", "/api/v1/courts/{court}",
          lambda *_: {"retention_days": 30}, None, "court.update", (401, 403, 403, 200)),
    Write("create courtroom", "POST", "/api/v1/courtrooms",
          lambda seed, *_: {"court_id": seed.court, "name": "第九法庭"}, None,
          "courtroom.create", (401, 403, 201, 201)),
    Write("create case", "POST", "/api/v1/cases", case_body, None, "case.create",
          (401, 403, 201, 201)),
    Write("schedule", "POST", "/api/v1/hearings", hearing_body, None, "hearing.create",
          (401, 403, 201, 201)),
    Write("approve", "POST", "/api/v1/hearings/{hearing}/approve", None, "unapproved",
          "hearing.approve", ANY_CLERK),
    Write("cut", "POST", "/api/v1/hearings/{hearing}/cut", None, "live", "hearing.cut",
          ANY_CLERK),
    Write("resume", "POST", "/api/v1/hearings/{hearing}/resume", None, "interrupted",
          "hearing.resume", ANY_CLERK),
    Write("end", "POST", "/api/v1/hearings/{hearing}/end", None, "live", "hearing.end",
          ANY_CLERK),
    Write("withdraw", "POST", "/api/v1/hearings/{hearing}/withdraw",
          lambda *_: {"reason": "court order"}, "ended", "hearing.withdraw", ANY_CLERK),
    Write("restore", "POST", "/api/v1/hearings/{hearing}/restore", None, "withdrawn",
          "hearing.restore", ANY_CLERK),
    Write("rotate key", "POST", "/api/v1/hearings/{hearing}/rotate-key", None, "scheduled",
          "hearing.rotate_key", ANY_CLERK),
    Write("create account", "POST", "/api/v1/accounts",
          lambda *_: {"username": "clerk.new", "role": "clerk",
                      "password": "a long enough password"}, None,
          "account.create", (401, 403, 403, 201)),
    Write("update account", "PATCH", "/api/v1/accounts/{account}",
          lambda *_: {"display_name": "孙书记员"}, None, "account.update", (401, 403, 403, 200)),
]


@dataclass
class Snapshot:
    hearing: tuple[Any, ...]
    audit: int
    calls: int


def snapshot(catalog: Catalog, broadcasts: FakeBroadcasts, hearing_id: int) -> Snapshot:
    h = catalog.hearing(hearing_id)
    return Snapshot((h.status, h.approved_at, h.stream_key, h.withdrawn_reason),
                    len(catalog.audit_entries()), len(broadcasts.calls))


def bearer(staff: Staff, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else {"Authorization": f"Bearer {staff.tokens[who]}"}


def matrix(writes: list[Write]) -> list[Any]:
    return [pytest.param(w, who, i, id=f"{w.name}-{who}")
            for w in writes for i, who in enumerate(ACTORS)]


@pytest.mark.parametrize(("write", "who", "column"), matrix(API_WRITES))
async def test_api_writes(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts,
    write: Write, who: str, column: int,
) -> None:
    hearing = make_hearing(catalog, seed, write.state)
    before = snapshot(catalog, broadcasts, hearing)
    body = write.body(seed, staff, hearing) if write.body else None
    response = await client.request(write.method, write.url(seed, staff, hearing), json=body,
                                    headers=bearer(staff, who))
    data = await response.json()
    assert response.status == write.expect[column], data
    if response.status >= 400:
        assert data["error"]["code"] == {401: "unauthorized", 403: "forbidden"}[response.status]
        assert snapshot(catalog, broadcasts, hearing) == before
        return
    (entry,) = catalog.audit_entries(AuditQuery(action=write.action))
    assert entry.actor == catalog.account(getattr(staff, who)).username
    assert entry.ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("path", "state", "expect"),
    [
        ("approve", "unapproved", 403),  # the approval right is needed
        ("restore", "withdrawn", 403),  # showing a withdrawn hearing again is approving it
        ("cut", "live", 200),
        ("resume", "interrupted", 200),
        ("withdraw", "ended", 200),
        ("rotate-key", "scheduled", 200),
    ],
)
async def test_clerk_without_the_approval_right(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, path: str, state: str,
    expect: int,
) -> None:
    hearing = make_hearing(catalog, seed, state)
    response = await client.post(f"/api/v1/hearings/{hearing}/{path}", headers=bearer(
        staff, "plain_clerk"), json={"reason": "court order"})
    assert response.status == expect, await response.text()


@pytest.mark.parametrize("how", ["revoked", "disabled"])
@pytest.mark.parametrize("write", [API_WRITES[3], API_WRITES[6]], ids=["create case", "cut"])
async def test_tokens_of_revoked_or_disabled_accounts(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts,
    write: Write, how: str,
) -> None:
    if how == "revoked":
        catalog.revoke_token(staff.tokens["clerk"])
    else:
        catalog.update_account(staff.clerk, disabled=True)
    hearing = make_hearing(catalog, seed, write.state)
    before = snapshot(catalog, broadcasts, hearing)
    body = write.body(seed, staff, hearing) if write.body else None
    response = await client.request(write.method, write.url(seed, staff, hearing), json=body,
                                    headers=bearer(staff, "clerk"))
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert snapshot(catalog, broadcasts, hearing) == before


async def test_approving_a_restricted_case_is_a_clear_409(
    client: Client, seed: Seed, staff: Staff
) -> None:
    response = await client.post(f"/api/v1/hearings/{seed.restricted}/approve",
                                 headers=bearer(staff, "admin"))
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "restricted" and "juvenile" in error["message"]


@pytest.mark.parametrize(("who", "status", "private"), [
    ("anonymous", 404, False), ("other_clerk", 404, False), ("clerk", 200, True),
    ("admin", 200, True)])
async def test_reading_a_hidden_hearing(
    client: Client, seed: Seed, staff: Staff, who: str, status: int, private: bool
) -> None:
    response = await client.get(f"/api/v1/hearings/{seed.private}", headers=bearer(staff, who))
    assert response.status == status
    public = await client.get(f"/api/v1/hearings/{seed.live}", headers=bearer(staff, who))
    data = await public.json()
    assert ("stream_key" in data, "record_url" in data) == (private, private)
    listed = await client.get("/api/v1/hearings", headers=bearer(staff, who))
    ids = {item["id"] for item in (await listed.json())["items"]}
    assert (seed.private in ids) == private and seed.live in ids


# --- pages ----------------------------------------------------------------------------------


def session(staff: Staff, who: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    return {"Cookie": f"courtcast_session={staff.cookies[who]}"}


def csrf(staff: Staff, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else {"csrf_token": staff.csrf[who]}


def schedule_form(seed: Seed, _staff: Staff, _hearing: int) -> dict[str, Any]:
    local = START.astimezone().strftime("%Y-%m-%dT%H:%M")
    later = (START + timedelta(hours=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
    return {"case_id": seed.case, "courtroom_id": seed.courtroom, "scheduled_start": local,
            "scheduled_end": later, "public": "on", "delay_seconds": "30"}


PAGE_CLERK = (LOGIN, 403, 303, 303)
PAGE_ADMIN = (LOGIN, 403, 403, 303)
PAGE_ACTIONS = [
    Write("schedule", "POST", "/clerk/hearings", schedule_form, None, "hearing.create",
          PAGE_CLERK),
    Write("register case", "POST", "/clerk/cases",
          lambda seed, *_: {**case_body(seed, _[0], 0), "restriction": ""}, None,
          "case.create", PAGE_CLERK),
    *(Write(w.name, "POST", f"/clerk/hearings/{{hearing}}/{w.path.rsplit('/', 1)[1]}",
            w.body, w.state, w.action, PAGE_CLERK)
      for w in API_WRITES if w.path.startswith("/api/v1/hearings/{hearing}/")),
    Write("create account", "POST", "/admin/accounts",
          lambda seed, *_: {"username": "clerk.new", "role": "clerk", "password": "x" * 12,
                            "court_ids": str(seed.court)}, None, "account.create", PAGE_ADMIN),
    Write("update account", "POST", "/admin/accounts/{account}",
          lambda seed, *_: {"role": "clerk", "court_ids": str(seed.court), "can_approve": "on"},
          None, "account.update", PAGE_ADMIN),
    Write("court settings", "POST", "/admin/courts/{court}",
          lambda *_: {"retention_days": "365", "default_profile": "ladder"}, None,
          "court.update", PAGE_ADMIN),
    Write("create token", "POST", "/account/tokens", lambda *_: {"label": "script"}, None,
          "token.create", (LOGIN, 201, 201, 201)),
]


async def post_page(
    client: Client, write: Write, seed: Seed, staff: Staff, hearing: int, who: str,
    form: dict[str, Any], headers: dict[str, str] | None = None,
) -> Any:
    return await client.post(write.url(seed, staff, hearing), data=form,
                             headers={**session(staff, who), **(headers or {})},
                             allow_redirects=False)


@pytest.mark.parametrize(("write", "who", "column"), matrix(PAGE_ACTIONS))
async def test_page_actions(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts,
    write: Write, who: str, column: int,
) -> None:
    hearing = make_hearing(catalog, seed, write.state)
    before = snapshot(catalog, broadcasts, hearing)
    form = {**(write.body(seed, staff, hearing) if write.body else {}), **csrf(staff, who)}
    response = await post_page(client, write, seed, staff, hearing, who, form)
    expected = write.expect[column]
    if expected == LOGIN:
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status == expected, (await response.text())[:2000]
    if response.status in (303, 201) and expected != LOGIN:
        assert not response.headers.get("Location", "").startswith("/login")
        (entry,) = catalog.audit_entries(AuditQuery(action=write.action))
        assert entry.actor == catalog.account(getattr(staff, who)).username
        return
    assert snapshot(catalog, broadcasts, hearing) == before


CSRF_CASES = {
    "missing": {},
    "wrong": {"csrf_token": "not-the-token"},
    "another session's": None,  # filled in below: the other clerk's token
}


@pytest.mark.parametrize("mistake", list(CSRF_CASES))
@pytest.mark.parametrize("write", PAGE_ACTIONS, ids=[w.name for w in PAGE_ACTIONS])
async def test_page_actions_need_the_sessions_csrf_token(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts,
    write: Write, mistake: str,
) -> None:
    who = "admin" if write.expect == PAGE_ADMIN else "clerk"
    hearing = make_hearing(catalog, seed, write.state)
    before = snapshot(catalog, broadcasts, hearing)
    token = CSRF_CASES[mistake]
    if token is None:
        token = {"csrf_token": staff.csrf["other_clerk"]}
    form = {**(write.body(seed, staff, hearing) if write.body else {}), **token}
    response = await post_page(client, write, seed, staff, hearing, who, form)
    assert response.status == 403
    assert "The form has expired" in await response.text()
    assert snapshot(catalog, broadcasts, hearing) == before


async def test_page_actions_from_another_origin_are_refused(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts
) -> None:
    write = PAGE_ACTIONS[3]  # approve
    hearing = make_hearing(catalog, seed, write.state)
    before = snapshot(catalog, broadcasts, hearing)
    form = csrf(staff, "clerk")
    response = await post_page(client, write, seed, staff, hearing, "clerk", form,
                               headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert snapshot(catalog, broadcasts, hearing) == before
    same = await post_page(client, write, seed, staff, hearing, "clerk", form,
                           headers={"Origin": str(client.make_url("")).rstrip("/")})
    assert same.status == 303


async def test_sessions_of_disabled_accounts_stop_at_once(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, broadcasts: FakeBroadcasts
) -> None:
    write = PAGE_ACTIONS[4]  # cut
    hearing = make_hearing(catalog, seed, write.state)
    catalog.update_account(staff.clerk, disabled=True)
    before = snapshot(catalog, broadcasts, hearing)
    response = await post_page(client, write, seed, staff, hearing, "clerk", csrf(staff, "clerk"))
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    assert snapshot(catalog, broadcasts, hearing) == before


PAGES = [
    ("/clerk", (LOGIN, 200, 200, 200)),
    ("/clerk/hearings/new", (LOGIN, 200, 200, 200)),
    ("/clerk/hearings/{private}", (LOGIN, 403, 200, 200)),
    ("/hearings/{private}/publish", (LOGIN, 403, 200, 200)),
    ("/hearings/{private}/monitor", (LOGIN, 403, 200, 200)),
    ("/account", (LOGIN, 200, 200, 200)),
    ("/admin/accounts", (LOGIN, 403, 403, 200)),
    ("/admin/accounts/{account}", (LOGIN, 403, 403, 200)),
    ("/admin/courts", (LOGIN, 403, 403, 200)),
    ("/admin/audit", (LOGIN, 403, 403, 200)),
    ("/admin/audit.csv", (LOGIN, 403, 403, 200)),
]


@pytest.mark.parametrize(("path", "who", "column"), [
    pytest.param(path, who, i, id=f"{path}-{who}") for path, _ in PAGES
    for i, who in enumerate(ACTORS)])
async def test_staff_pages(
    client: Client, seed: Seed, staff: Staff, path: str, who: str, column: int
) -> None:
    expect = dict(PAGES)[path][column]
    url = path.format(private=seed.private, account=staff.plain_clerk)
    response = await client.get(url, headers=session(staff, who), allow_redirects=False)
    if expect == LOGIN:
        assert response.status == 303
        location = URL(response.headers["Location"])
        assert (location.path, location.query["next"]) == ("/login", url)
        return
    assert response.status == expect
    assert response.headers["Cache-Control"] in ("private, no-store", "no-store")
