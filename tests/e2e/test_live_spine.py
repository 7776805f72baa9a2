"""The live spine end to end: a clerk's API calls, real ffmpeg encoders over RTMP, a real
`courtcast serve` process, ffprobe on every segment and Chromium playing live and replay."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from courtcast.simulator import EncoderSettings, publish, publish_command
from tests.e2e.conftest import RunningServer
from tests.helpers import (
    decode_errors,
    eventually,
    ffprobe_json,
    media_duration,
    video_frames,
)

pytestmark = pytest.mark.e2e

SMALL = EncoderSettings(width=640, height=360, video_bitrate="600k")


async def create_hearing(server: RunningServer, suffix: str, **extra: Any) -> dict[str, Any]:
    court = await server.api("POST", "/api/v1/courts", {
        "name": f"北京市朝阳区人民法院 {suffix}", "level": "basic", "region": "北京市 / 朝阳区"},
        expect=201)
    room = await server.api("POST", "/api/v1/courtrooms",
                            {"court_id": court["id"], "name": "第一法庭"}, expect=201)
    case = await server.api("POST", "/api/v1/cases", {
        "court_id": court["id"], "case_number": f"(2026)京0105民初{suffix}号",
        "title": "张某诉某科技有限公司买卖合同纠纷", "case_type": "civil",
        "cause": "contract dispute"}, expect=201)
    now = datetime.now(UTC)
    hearing = await server.api("POST", "/api/v1/hearings", {
        "case_id": case["id"], "courtroom_id": room["id"],
        "scheduled_start": (now - timedelta(minutes=5)).isoformat(),
        "scheduled_end": (now + timedelta(hours=1)).isoformat(), **extra}, expect=201)
    # Ingest refuses hearings the court has not approved for broadcast.
    approved = await server.api("POST", f"/api/v1/hearings/{hearing['id']}/approve", expect=200)
    assert approved["approved_at"] is not None
    return dict(hearing)


async def wait_status(server: RunningServer, hearing_id: int, status: str,
                      timeout: float = 30) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = await server.api("GET", f"/api/v1/hearings/{hearing_id}", auth=False)
        return body if body.get("status") == status else None

    return await eventually(probe, timeout=timeout, what=f"hearing {hearing_id} to be {status}")


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, (url, response.status)
        return await response.read()


def playlist_entries(text: str) -> list[dict[str, Any]]:
    """(uri, duration, map, discontinuity) of each segment of a media playlist."""
    entries: list[dict[str, Any]] = []
    duration, init, discontinuity = 0.0, "", False
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="')[1].split('"')[0]
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line and not line.startswith("#"):
            entries.append({"uri": line, "duration": duration, "init": init,
                            "discontinuity": discontinuity})
            discontinuity = False
    return entries


async def replay_files(server: RunningServer, playback_url: str, workdir: Path) -> dict[str, Any]:
    """Download the replay; write one file per continuous run (init + its segments)."""
    workdir.mkdir(parents=True, exist_ok=True)
    master_url = server.url(playback_url)
    master = (await fetch(master_url)).decode()
    assert "CODECS=" in master and "BANDWIDTH=" in master and "RESOLUTION=" in master, master
    variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
    media_url = urljoin(master_url, variant)
    media = (await fetch(media_url)).decode()
    entries = playlist_entries(media)
    runs: list[Path] = []
    for entry in entries:
        if not runs or entry["discontinuity"]:
            runs.append(workdir / f"run{len(runs)}.mp4")
            runs[-1].write_bytes(await fetch(urljoin(media_url, entry["init"])))
        segment = await fetch(urljoin(media_url, entry["uri"]))
        with runs[-1].open("ab") as handle:
            handle.write(segment)
        # Each segment must decode on its own with its init segment.
        alone = workdir / "alone.mp4"
        alone.write_bytes(await fetch(urljoin(media_url, entry["init"])) + segment)
        assert decode_errors(alone) == "", f"segment {entry['uri']} does not decode"
    return {"master": master, "media": media, "media_url": media_url, "entries": entries,
            "runs": runs}


async def play_in_chromium(browser: Any, page_url: str, *, seconds: float = 3.0) -> dict[str, Any]:
    page = await browser.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    await page.goto(page_url)

    async def playing() -> bool:
        # Polled from here: wait_for_function evaluates strings, which the portal's CSP forbids.
        return bool(await page.evaluate(
            "() => !!(window.courtcastPlayer && window.courtcastPlayer.video"
            " && window.courtcastPlayer.video.readyState >= 3"
            " && window.courtcastPlayer.video.currentTime > 0)"))

    await eventually(playing, timeout=30, what=f"playback of {page_url}")
    first = await page.evaluate("window.courtcastPlayer.video.currentTime")
    await asyncio.sleep(seconds)
    state = await page.evaluate("""() => ({
        time: window.courtcastPlayer.video.currentTime,
        paused: window.courtcastPlayer.video.paused,
        errors: window.courtcastPlayer.errors,
        duration: window.courtcastPlayer.video.duration})""")
    await page.close()
    state["first"] = first
    state["console_errors"] = console_errors
    assert state["time"] > first + seconds / 2, f"playback did not advance: {state}"
    assert not state["errors"], state
    return dict(state)


async def test_clerk_publishes_citizens_watch_live_and_replay(
    server: RunningServer, browser: Any, tmp_path: Path
) -> None:
    hearing = await create_hearing(server, "101")
    for field in ("id", "status", "stream_key", "rtmp_url", "whip_url", "playback_url", "page_url"):
        assert field in hearing, field
    assert hearing["status"] == "scheduled"
    assert hearing["rtmp_url"] == f"rtmp://127.0.0.1:{server.rtmp_port}/live/{hearing['stream_key']}"

    sent_seconds = 14
    encoder = asyncio.create_task(
        publish(hearing["rtmp_url"], duration=sent_seconds, settings=SMALL))
    await wait_status(server, hearing["id"], "live")
    live = await server.api("GET", "/api/v1/hearings?status=live", auth=False)
    assert hearing["id"] in [item["id"] for item in live["items"]]
    _, home = await server.get_text("/")
    assert "(2026)京0105民初101号" in home

    await play_in_chromium(browser, hearing["page_url"])
    assert await encoder == 0

    ended = await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    assert ended["status"] == "ended"
    replay = await replay_files(server, hearing["playback_url"], tmp_path)
    assert "#EXT-X-ENDLIST" in replay["media"]
    assert "#EXT-X-PROGRAM-DATE-TIME:" in replay["media"]
    assert len(replay["runs"]) == 1
    total = sum(entry["duration"] for entry in replay["entries"])
    assert abs(total - sent_seconds) <= SMALL.gop_seconds + 0.1, total
    assert decode_errors(replay["runs"][0]) == ""
    # Every frame the encoder sent is in the replay, though the clerk ended at once.
    assert video_frames(replay["runs"][0]) == sent_seconds * SMALL.fps
    assert abs(media_duration(replay["runs"][0]) - sent_seconds) <= 0.1
    # The same playback_url plays the whole hearing from its first second.
    assert abs(media_duration(server.url(hearing["playback_url"])) - sent_seconds) <= 2.1
    state = await play_in_chromium(browser, hearing["page_url"])
    assert state["first"] < 2.0, "the replay must start from the beginning"


async def test_many_publishers_and_a_reconnect(server: RunningServer, tmp_path: Path) -> None:
    hearings = [await create_hearing(server, f"20{i}") for i in range(3)]
    steady = [asyncio.create_task(publish(h["rtmp_url"], duration=8, settings=SMALL))
              for h in hearings[:2]]

    # The third courtroom's encoder drops after ~5 s and reconnects for 6 s more.
    dropped = subprocess.Popen(publish_command(hearings[2]["rtmp_url"], settings=SMALL),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await wait_status(server, hearings[2]["id"], "live")
    await asyncio.sleep(4)
    dropped.kill()
    dropped.wait()
    # A reconnect may briefly find the old session still open; a real encoder retries.
    async def reconnect() -> bool:
        return await publish(hearings[2]["rtmp_url"], duration=6, settings=SMALL) == 0
    await eventually(reconnect, timeout=30, what="the encoder to reconnect", interval=0.5)
    assert await asyncio.gather(*steady) == [0, 0]

    for hearing in hearings:
        await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    for index, hearing in enumerate(hearings[:2]):
        replay = await replay_files(server, hearing["playback_url"], tmp_path / f"h{index}")
        total = sum(entry["duration"] for entry in replay["entries"])
        assert abs(total - 8) <= 2.1, total
    replay = await replay_files(server, hearings[2]["playback_url"], tmp_path / "h2")
    assert replay["media"].count("#EXT-X-DISCONTINUITY\n") == 1, replay["media"]
    assert len(replay["runs"]) == 2
    first_part = media_duration(replay["runs"][0])
    second_part = media_duration(replay["runs"][1])
    assert first_part >= 3.5, "what was received before the drop must be kept"
    assert abs(second_part - 6) <= 2.1
    for run in replay["runs"]:
        assert decode_errors(run) == ""
    assert len(ffprobe_json(replay["runs"][1], "-show_streams")["streams"]) == 2


async def test_wrong_keys_and_second_publisher_are_refused(server: RunningServer) -> None:
    hearing = await create_hearing(server, "301")
    base = hearing["rtmp_url"].rsplit("/", 1)[0]
    assert await publish(f"{base}/not-a-key", duration=2, settings=SMALL) != 0
    wrong_app = hearing["rtmp_url"].replace("/live/", "/other/")
    assert await publish(wrong_app, duration=2, settings=SMALL) != 0

    first = subprocess.Popen(publish_command(hearing["rtmp_url"], settings=SMALL),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_status(server, hearing["id"], "live")
        assert await publish(hearing["rtmp_url"], duration=2, settings=SMALL) != 0
    finally:
        first.terminate()
        first.wait()

    later = await server.api("GET", f"/api/v1/hearings/{hearing['id']}")
    future = datetime.now(UTC) + timedelta(days=2)
    scheduled = await server.api("POST", "/api/v1/hearings", {
        "case_id": later["case_id"], "courtroom_id": later["courtroom_id"],
        "scheduled_start": future.isoformat(),
        "scheduled_end": (future + timedelta(hours=1)).isoformat()}, expect=201)
    await server.api("POST", f"/api/v1/hearings/{scheduled['id']}/approve", expect=200)
    assert await publish(scheduled["rtmp_url"], duration=2, settings=SMALL) != 0
    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    assert await publish(hearing["rtmp_url"], duration=2, settings=SMALL) != 0, "expired key"
    log = server.log()
    assert "unknown stream key" in log and "has ended" in log and "scheduled" in log


@pytest.mark.postgres
async def test_the_spine_on_postgresql(postgres_server: RunningServer, tmp_path: Path) -> None:
    hearing = await create_hearing(postgres_server, "401")
    assert await publish(hearing["rtmp_url"], duration=6, settings=SMALL) == 0
    await wait_status(postgres_server, hearing["id"], "live")
    await postgres_server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    replay = await replay_files(postgres_server, hearing["playback_url"], tmp_path)
    assert video_frames(replay["runs"][0]) == 6 * SMALL.fps
