"""Disclosure controls on real media: a real `courtcast serve`, real ffmpeg publishers, the
clerk's API. What matters is what reaches the public location, not only what the API says."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from courtcast.simulator import publish, publish_command
from tests.e2e.conftest import RunningServer
from tests.e2e.test_live_spine import SMALL, create_hearing, playlist_entries, wait_status
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


async def status_and_text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(errors="replace")


async def sequences(url: str) -> list[str]:
    """Segment URIs a media playlist lists now ([] while it does not exist)."""
    status, text = await status_and_text(url)
    return [e["uri"] for e in playlist_entries(text)] if status == 200 else []


def playlists(server: RunningServer, hearing: dict[str, Any], court: dict[str, Any]) -> tuple[
        str, str]:
    public = urljoin(server.url(hearing["playback_url"]), "source/index.m3u8")
    record = urljoin(court["record_url"], "source/index.m3u8")
    return public, record


async def test_the_public_trails_the_record_by_the_delay(server: RunningServer) -> None:
    hearing = await create_hearing(server, "501", delay_seconds=10)
    encoder = subprocess.Popen(publish_command(hearing["rtmp_url"], duration=24, settings=SMALL),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        court = await server.api("GET", f"/api/v1/hearings/{hearing['id']}")
        public_url, record_url = playlists(server, hearing, court)
        first_seen: dict[str, dict[str, float]] = {"public": {}, "record": {}}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(first_seen["public"]) < 6:
            for name, url in (("public", public_url), ("record", record_url)):
                for uri in await sequences(url):
                    first_seen[name].setdefault(uri, time.monotonic())
            await asyncio.sleep(0.25)
    finally:
        encoder.wait()
    assert len(first_seen["public"]) >= 6, first_seen
    for uri, public_at in first_seen["public"].items():
        assert public_at - first_seen["record"][uri] >= 10 - 0.5, (uri, first_seen)


async def test_a_cut_keeps_the_delay_window_from_the_public_forever(
    server: RunningServer,
) -> None:
    hearing = await create_hearing(server, "502", delay_seconds=6)
    encoder = subprocess.Popen(publish_command(hearing["rtmp_url"], settings=SMALL),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        court = await server.api("GET", f"/api/v1/hearings/{hearing['id']}")
        public_url, record_url = playlists(server, hearing, court)
        await eventually(lambda: sequences(public_url), timeout=40, what="public segments")
        await server.api("POST", f"/api/v1/hearings/{hearing['id']}/cut", expect=200)
        cut_record = await sequences(record_url)
        cut_public = await sequences(public_url)
        withheld = [uri for uri in cut_record if uri not in cut_public]
        assert len(withheld) >= 2, "a 6 s delay holds about three 2 s segments back"
        interrupted = await server.api("GET", f"/api/v1/hearings/{hearing['id']}", auth=False)
        assert interrupted["status"] == "interrupted"
        await asyncio.sleep(8)  # longer than the delay: the withheld segments stay withheld
        assert await sequences(public_url) == cut_public
        during_cut = await sequences(record_url)
        await server.api("POST", f"/api/v1/hearings/{hearing['id']}/resume", expect=200)

        async def published_again() -> bool:
            return len(await sequences(public_url)) > len(cut_public)

        await eventually(published_again, timeout=30, what="publishing to resume")
    finally:
        encoder.terminate()
        encoder.wait()
    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)

    async def closed() -> bool:  # the delayed tail is still released on schedule
        return "#EXT-X-ENDLIST" in (await status_and_text(public_url))[1]

    await eventually(closed, timeout=20, what="the public playlist to end")
    public = await sequences(public_url)
    never_public = [uri for uri in during_cut if uri not in cut_public]
    assert never_public and not set(never_public) & set(public)
    base = server.url(hearing["playback_url"])
    for uri in never_public:  # not in any public playlist, and not in public storage
        status, _ = await status_and_text(urljoin(base, f"source/{uri}"))
        assert status == 404, uri
        status, _ = await status_and_text(urljoin(record_url, uri))
        assert status == 200, f"the record must keep {uri}"
    _, text = await status_and_text(public_url)
    assert "#EXT-X-DISCONTINUITY" in text and "#EXT-X-ENDLIST" in text


async def test_a_withdrawn_replay_is_gone_and_comes_back_on_restore(
    server: RunningServer,
) -> None:
    hearing = await create_hearing(server, "503")
    encoder = subprocess.Popen(publish_command(hearing["rtmp_url"], duration=5, settings=SMALL),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await wait_status(server, hearing["id"], "live")
    encoder.wait()
    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    court = await server.api("GET", f"/api/v1/hearings/{hearing['id']}")
    public_url, record_url = playlists(server, hearing, court)
    replay = await sequences(public_url)
    assert replay

    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/withdraw",
                     {"reason": "court order of 2026-11-21"}, expect=200)
    for url in (server.url(hearing["playback_url"]), public_url,
                urljoin(public_url, replay[0]), hearing["page_url"]):
        status, _ = await status_and_text(url)
        assert status == 404, url
    anonymous = await server.api("GET", f"/api/v1/hearings/{hearing['id']}", auth=False)
    assert anonymous["error"]["code"] == "not_found"
    listed = await server.api("GET", "/api/v1/hearings?status=ended", auth=False)
    assert hearing["id"] not in [item["id"] for item in listed["items"]]
    assert not list((server.data_dir / "media" / "public" / str(hearing["id"])).rglob("*"))
    assert await sequences(record_url) == replay, "the court's record stays"

    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/restore", expect=200)
    assert await sequences(public_url) == replay
    status, _ = await status_and_text(hearing["page_url"])
    assert status == 200


async def test_a_restricted_case_is_never_broadcast(server: RunningServer) -> None:
    court = await server.api("POST", "/api/v1/courts", {
        "name": "北京市海淀区人民法院", "level": "basic", "region": "北京市 / 海淀区"}, expect=201)
    room = await server.api("POST", "/api/v1/courtrooms",
                            {"court_id": court["id"], "name": "少年法庭"}, expect=201)
    case = await server.api("POST", "/api/v1/cases", {
        "court_id": court["id"], "case_number": "(2026)京0108刑初504号",
        "title": "某未成年人盗窃案",
        "case_type": "criminal", "cause": "theft", "restriction": "juvenile",
        "restriction_reason": "the defendant is a minor"}, expect=201)
    now = datetime.now(UTC)
    hearing = await server.api("POST", "/api/v1/hearings", {
        "case_id": case["id"], "courtroom_id": room["id"], "scheduled_start": now.isoformat(),
        "scheduled_end": (now + timedelta(hours=1)).isoformat()}, expect=201)
    refused = await server.api("POST", f"/api/v1/hearings/{hearing['id']}/approve", expect=409)
    assert refused["error"]["code"] == "restricted"
    assert await publish(hearing["rtmp_url"], duration=2, settings=SMALL) != 0
    assert "may not be broadcast (juvenile)" in server.log()
    anonymous = await server.api("GET", f"/api/v1/hearings/{hearing['id']}", auth=False)
    assert anonymous["error"]["code"] == "not_found"
    assert not (server.data_dir / "media" / "public" / str(hearing["id"])).exists()
