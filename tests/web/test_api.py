"""The JSON API against a real catalog: interface.md's fields, visibility and every error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.web.conftest import FakeBroadcasts, Seed

Client = TestClient[Any, Any]
START = "2026-11-21T10:00:00+08:00"
END = "2026-11-21T12:00:00+08:00"


async def post(client: Client, path: str, body: Any, auth: dict[str, str], status: int) -> Any:
    response = await client.post(path, json=body, headers=auth)
    data = await response.json()
    assert response.status == status, data
    return data


def assert_error(data: Any, code: str, *, field: str | None = None) -> None:
    assert set(data) == {"error"}
    assert data["error"]["code"] == code
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    if field is not None:
        assert data["error"]["field"] == field
        assert field in data["error"]["message"]


async def create_hearing_chain(client: Client, auth: dict[str, str]) -> dict[str, Any]:
    court = await post(client, "/api/v1/courts", {
        "name": "北京市朝阳区人民法院", "level": "basic", "region": "北京市 / 朝阳区"}, auth, 201)
    room = await post(client, "/api/v1/courtrooms",
                      {"court_id": court["id"], "name": "第一法庭"}, auth, 201)
    case = await post(client, "/api/v1/cases", {
        "court_id": court["id"], "case_number": "(2026)京0105民初1号",
        "title": "买卖合同纠纷", "case_type": "civil", "cause": "contract dispute"}, auth, 201)
    hearing = await post(client, "/api/v1/hearings", {
        "case_id": case["id"], "courtroom_id": room["id"],
        "scheduled_start": START, "scheduled_end": END}, auth, 201)
    return {"court": court, "room": room, "case": case, "hearing": hearing}


async def test_create_chain_answers_interface_fields(client: Client, auth: dict[str, str]) -> None:
    made = await create_hearing_chain(client, auth)
    court, room, case, hearing = made["court"], made["room"], made["case"], made["hearing"]
    assert court["name"] == "北京市朝阳区人民法院" and court["level"] == "basic"
    assert court["created_at"].endswith("+00:00")
    assert room["court_id"] == court["id"]
    assert case["case_number"] == "(2026)京0105民初1号" and case["restriction"] is None
    hid = hearing["id"]
    assert hearing["status"] == "scheduled"
    assert len(hearing["stream_key"]) >= 20
    host = client.server.host
    assert hearing["rtmp_url"] == f"rtmp://{host}:1935/live/{hearing['stream_key']}"
    assert hearing["whip_url"] == f"http://{host}:{client.server.port}/api/v1/hearings/{hid}/whip"
    assert hearing["page_url"] == f"http://{host}:{client.server.port}/hearings/{hid}"
    assert hearing["playback_url"] == f"/media/public/{hid}/master.m3u8"
    assert hearing["scheduled_start"] == "2026-11-21T02:00:00+00:00"
    assert hearing["scheduled_end"] == "2026-11-21T04:00:00+00:00"
    assert hearing["public"] is True and hearing["delay_seconds"] == 0
    assert hearing["profile"] == "passthrough"
    assert hearing["case"]["title"] == "买卖合同纠纷"
    assert hearing["court"]["id"] == court["id"] and hearing["courtroom"]["id"] == room["id"]
    assert "record_token" not in hearing


async def test_optional_fields_pass_through(client: Client, auth: dict[str, str]) -> None:
    made = await create_hearing_chain(client, auth)
    court_id = made["court"]["id"]
    restricted = await post(client, "/api/v1/cases", {
        "court_id": court_id, "case_number": "(2026)京0105刑初2号", "title": "t",
        "case_type": "criminal", "cause": "theft", "restriction": "juvenile",
        "restriction_reason": "a minor"}, auth, 201)
    assert restricted["restriction"] == "juvenile"
    assert restricted["restriction_reason"] == "a minor"
    hearing = await post(client, "/api/v1/hearings", {
        "case_id": made["case"]["id"], "courtroom_id": made["room"]["id"],
        "scheduled_start": "2026-11-21T02:00:00Z", "scheduled_end": "2026-11-21T03:00:00Z",
        "public": False, "delay_seconds": 600, "profile": "ladder"}, auth, 201)
    assert hearing["public"] is False
    assert (hearing["delay_seconds"], hearing["profile"]) == (600, "ladder")


async def test_get_hearing_hides_stream_key_from_anonymous(
    client: Client, auth: dict[str, str], seed: Seed
) -> None:
    response = await client.get(f"/api/v1/hearings/{seed.live}")
    assert response.status == 200
    public = await response.json()
    assert public["id"] == seed.live and public["status"] == "live"
    assert public["playback_url"] == f"/media/public/{seed.live}/master.m3u8"
    assert public["page_url"].endswith(f"/hearings/{seed.live}")
    for secret in ("stream_key", "rtmp_url", "whip_url", "record_token"):
        assert secret not in public
    assert "restriction" not in public["case"]
    assert response.headers["Cache-Control"] == "public, max-age=2"
    private = await (await client.get(f"/api/v1/hearings/{seed.live}", headers=auth)).json()
    assert private["stream_key"] and private["rtmp_url"].endswith(private["stream_key"])


@pytest.mark.parametrize("which", ["private", "restricted"])
async def test_hidden_hearings_are_404_to_anonymous(
    client: Client, auth: dict[str, str], seed: Seed, which: str
) -> None:
    hearing_id = getattr(seed, which)
    response = await client.get(f"/api/v1/hearings/{hearing_id}")
    assert response.status == 404
    assert_error(await response.json(), "not_found")
    assert (await client.get(f"/api/v1/hearings/{hearing_id}", headers=auth)).status == 200


async def test_list_hearings_by_status(client: Client, auth: dict[str, str], seed: Seed) -> None:
    live = await (await client.get("/api/v1/hearings?status=live")).json()
    assert [item["id"] for item in live["items"]] == [seed.live]
    assert "stream_key" not in live["items"][0]
    both = await (await client.get("/api/v1/hearings?status=live,ended&order=start_desc")).json()
    assert [item["id"] for item in both["items"]] == [seed.live, seed.ended]
    everything = await (await client.get("/api/v1/hearings")).json()
    ids = {item["id"] for item in everything["items"]}
    assert ids == {seed.live, seed.scheduled, seed.ended}  # not the private nor restricted
    with_token = await (await client.get("/api/v1/hearings", headers=auth)).json()
    assert {seed.private, seed.restricted} <= {item["id"] for item in with_token["items"]}
    paged = await (await client.get("/api/v1/hearings?limit=1&offset=1")).json()
    assert [item["id"] for item in paged["items"]] == [seed.live]
    assert (paged["limit"], paged["offset"]) == (1, 1)
    other_court = await client.get(f"/api/v1/hearings?court_id={seed.root_court}")
    assert (await other_court.json())["items"] == []


async def test_list_hearings_time_window_accepts_plus_decoded_as_space(
    client: Client, seed: Seed
) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    # An unencoded '+' arrives as a space; the API reads it back as the offset it meant.
    response = await client.get(f"/api/v1/hearings?start_from={start}")
    assert response.status == 200, await response.text()
    assert [item["id"] for item in (await response.json())["items"]] == [seed.scheduled]


async def test_withdrawn_hearings_are_not_listed_publicly(
    client: Client, seed: Seed, broadcasts: FakeBroadcasts
) -> None:
    broadcasts.catalog.set_status(seed.ended, "withdrawn")
    listed = await (await client.get("/api/v1/hearings?status=withdrawn")).json()
    assert listed["items"] == []
    assert (await client.get(f"/api/v1/hearings/{seed.ended}")).status == 404


async def test_end_hearing_calls_the_pipeline(
    client: Client, auth: dict[str, str], seed: Seed, broadcasts: FakeBroadcasts
) -> None:
    response = await client.post(f"/api/v1/hearings/{seed.live}/end", headers=auth)
    assert response.status == 200
    data = await response.json()
    assert data["id"] == seed.live and data["status"] == "ended"
    assert data["ended_at"].endswith("+00:00")
    assert broadcasts.ended == [seed.live]
    missing = await client.post("/api/v1/hearings/999999/end", headers=auth)
    assert missing.status == 404
    assert broadcasts.ended == [seed.live]


async def test_public_reads_of_courts_and_cases(client: Client, seed: Seed) -> None:
    courts = await (await client.get("/api/v1/courts")).json()
    assert [c["id"] for c in courts["items"]] == [seed.root_court, seed.court, seed.child_court]
    court = await (await client.get(f"/api/v1/courts/{seed.court}")).json()
    assert court["name"] == "北京市朝阳区人民法院"
    assert [p["id"] for p in court["path"]] == [seed.root_court, seed.court]
    assert [r["name"] for r in court["courtrooms"]] == ["第一法庭"]
    case = await (await client.get(f"/api/v1/cases/{seed.case}")).json()
    assert case["case_number"] == "(2026)京0105民初100号" and "restriction" not in case


async def test_restricted_case_is_404_to_anonymous(
    client: Client, auth: dict[str, str], seed: Seed
) -> None:
    hearing = await (await client.get(f"/api/v1/hearings/{seed.restricted}", headers=auth)).json()
    case_id = hearing["case_id"]
    assert (await client.get(f"/api/v1/cases/{case_id}")).status == 404
    private = await (await client.get(f"/api/v1/cases/{case_id}", headers=auth)).json()
    assert private["restriction"] == "juvenile"


# --- errors -------------------------------------------------------------------------------


async def test_writes_need_a_token(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer cc_not-a-token"}, {"Authorization": "Basic x"}):
        response = await client.post("/api/v1/courts", json={}, headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert_error(await response.json(), "unauthorized")
    ended = await client.post("/api/v1/hearings/1/end")
    assert ended.status == 401


async def test_bad_token_on_a_read_is_401(client: Client, seed: Seed) -> None:
    headers = {"Authorization": "Bearer cc_wrong"}
    response = await client.get(f"/api/v1/hearings/{seed.live}", headers=headers)
    assert response.status == 401


async def test_malformed_json(client: Client, auth: dict[str, str]) -> None:
    for body in (b"{not json", b"", b"[1, 2]"):
        response = await client.post("/api/v1/courts", data=body, headers=auth)
        assert response.status == 400
        assert_error(await response.json(), "bad_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"level": "basic", "region": "r"}, "name"),
        ({"name": 5, "level": "basic", "region": "r"}, "name"),
        ({"name": "n", "level": "galactic", "region": "r"}, "level"),
        ({"name": "n", "level": "basic", "region": "r", "parent_id": "1"}, "parent_id"),
        ({"name": " ", "level": "basic", "region": "r"}, "name"),
    ],
)
async def test_invalid_court_fields_are_named(
    client: Client, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/courts", json=body, headers=auth)
    assert response.status == 400
    assert_error(await response.json(), "invalid", field=field)


async def test_hearing_field_errors(client: Client, auth: dict[str, str], seed: Seed) -> None:
    good = {"case_id": seed.case, "courtroom_id": seed.courtroom,
            "scheduled_start": START, "scheduled_end": END}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scheduled_start": "2026-11-21T10:00:00"}, "scheduled_start"),  # naive
        ({"scheduled_end": "tomorrow"}, "scheduled_end"),
        ({"scheduled_end": 1700000000}, "scheduled_end"),
        ({"scheduled_end": "2026-11-21T09:00:00+08:00"}, "scheduled_end"),  # before start
        ({"case_id": True}, "case_id"),
        ({"public": "yes"}, "public"),
        ({"delay_seconds": 5000}, "delay_seconds"),
        ({"profile": "4k"}, "profile"),
        ({"courtroom_id": None}, "courtroom_id"),
    ]
    for change, field in cases:
        response = await client.post("/api/v1/hearings", json={**good, **change}, headers=auth)
        assert response.status == 400, change
        assert_error(await response.json(), "invalid", field=field)
    naive = await client.post("/api/v1/hearings", headers=auth,
                              json={**good, "scheduled_start": "2026-11-21T10:00:00"})
    assert "offset" in (await naive.json())["error"]["message"]


async def test_unknown_ids_are_404(client: Client, auth: dict[str, str], seed: Seed) -> None:
    for path in ("/api/v1/hearings/424242", "/api/v1/courts/424242", "/api/v1/cases/424242",
                 "/api/v1/hearings/99999999999999999999999"):
        response = await client.get(path)
        assert response.status == 404, path
        assert_error(await response.json(), "not_found")
    response = await client.post("/api/v1/courtrooms", json={"court_id": 424242, "name": "x"},
                                 headers=auth)
    assert response.status == 404
    assert_error(await response.json(), "not_found", field="court_id")


async def test_duplicate_case_number_is_409(
    client: Client, auth: dict[str, str], seed: Seed
) -> None:
    body = {"court_id": seed.court, "case_number": "(2026)京0105民初100号", "title": "t",
            "case_type": "civil", "cause": "c"}
    response = await client.post("/api/v1/cases", json=body, headers=auth)
    assert response.status == 409
    assert_error(await response.json(), "conflict", field="case_number")


async def test_unknown_route_and_wrong_method_answer_json(client: Client) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert_error(await response.json(), "not_found")
    response = await client.delete("/api/v1/hearings")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    assert_error(await response.json(), "method_not_allowed")
    response = await client.get("/api/v1/hearings/not-a-number")
    assert response.status == 404
    assert_error(await response.json(), "not_found")


async def test_query_errors(client: Client) -> None:
    for query, field in (("status=dancing", "status"), ("limit=-1", "limit"),
                         ("limit=100000", "limit"), ("order=random", "order"),
                         ("start_from=2026-11-21T10:00:00", "start_from")):
        response = await client.get(f"/api/v1/hearings?{query}")
        assert response.status == 400, query
        assert_error(await response.json(), "invalid", field=field)


async def test_unexpected_errors_are_500_json_without_trace(
    client: Client, broadcasts: FakeBroadcasts, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(broadcasts.catalog, "hearing_view", explode)
    response = await client.get(f"/api/v1/hearings/{seed.live}")
    assert response.status == 500
    data = await response.json()
    assert_error(data, "internal")
    assert "secret" not in str(data) and "Traceback" not in str(data)


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


# --- disclosure controls ------------------------------------------------------------------


async def test_approve_cut_resume_withdraw_restore(
    client: Client, auth: dict[str, str], seed: Seed, broadcasts: FakeBroadcasts
) -> None:
    made = await create_hearing_chain(client, auth)
    hid = made["hearing"]["id"]
    assert made["hearing"]["approved_at"] is None
    assert (await client.get(f"/api/v1/hearings/{hid}")).status == 404  # not approved: hidden
    approved = await post(client, f"/api/v1/hearings/{hid}/approve", None, auth, 200)
    assert approved["approved_at"].endswith("+00:00") and approved["approved_by"]
    assert (await client.get(f"/api/v1/hearings/{hid}")).status == 200
    conflict = await post(client, f"/api/v1/hearings/{hid}/cut", None, auth, 409)
    assert_error(conflict, "conflict")
    broadcasts.catalog.set_status(hid, "live")
    assert (await post(client, f"/api/v1/hearings/{hid}/cut", None, auth, 200))["status"] == (
        "interrupted")
    assert (await post(client, f"/api/v1/hearings/{hid}/resume", None, auth, 200))["status"] == (
        "live")
    missing = await post(client, f"/api/v1/hearings/{hid}/withdraw", {}, auth, 400)
    assert_error(missing, "invalid", field="reason")
    withdrawn = await post(client, f"/api/v1/hearings/{hid}/withdraw",
                           {"reason": "court order 17"}, auth, 200)
    assert (withdrawn["status"], withdrawn["withdrawn_reason"]) == ("withdrawn", "court order 17")
    assert (await client.get(f"/api/v1/hearings/{hid}")).status == 404
    listed = await (await client.get("/api/v1/hearings?q=买卖合同纠纷")).json()
    assert hid not in [item["id"] for item in listed["items"]]
    restored = await post(client, f"/api/v1/hearings/{hid}/restore", None, auth, 200)
    assert restored["status"] == "ended" and restored["withdrawn_reason"] == ""
    assert [name for name, _ in broadcasts.calls] == ["cut", "resume", "withdraw", "restore"]


async def test_court_settings_and_profile_default(client: Client, auth: dict[str, str]) -> None:
    court = await post(client, "/api/v1/courts", {
        "name": "上海知识产权法院", "level": "special", "region": "上海市", "retention_days": 365,
        "default_profile": "ladder", "timestamp_overlay": True}, auth, 201)
    assert (court["retention_days"], court["default_profile"], court["timestamp_overlay"]) == (
        365, "ladder", True)
    patched = await client.patch(f"/api/v1/courts/{court['id']}", json={"retention_days": None},
                                 headers=auth)
    data = await patched.json()
    assert patched.status == 200, data
    assert (data["retention_days"], data["default_profile"]) == (None, "ladder")  # others kept
    room = await post(client, "/api/v1/courtrooms", {"court_id": court["id"], "name": "一"},
                      auth, 201)
    case = await post(client, "/api/v1/cases", {
        "court_id": court["id"], "case_number": "(2026)沪73知民初1号", "title": "t",
        "case_type": "civil", "cause": "patent"}, auth, 201)
    hearing = await post(client, "/api/v1/hearings", {
        "case_id": case["id"], "courtroom_id": room["id"], "scheduled_start": START,
        "scheduled_end": END, "noindex": True}, auth, 201)
    assert (hearing["profile"], hearing["noindex"]) == ("ladder", True)
    bad = await client.patch(f"/api/v1/courts/{court['id']}", json={"retention_days": 0},
                             headers=auth)
    assert bad.status == 400
    assert_error(await bad.json(), "invalid", field="retention_days")
