"""WebRTC end to end: headless Chromium publishes its fake camera and microphone through the
portal's own "Broadcast from this browser" page (WHIP) into a real `courtcast serve`, in H.264
(passed through) and VP8 (transcoded); the clerk monitor (WHEP) is timed glass to glass."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from courtcast.simulator import publish
from tests.e2e import test_live_spine
from tests.e2e.conftest import CHROMIUM_FLAGS, RunningServer, create_account, sign_in
from tests.e2e.test_live_spine import (
    SMALL,
    create_hearing,
    play_in_chromium,
    replay_files,
    wait_status,
)
from tests.helpers import decode_errors, eventually, ffprobe_json, media_duration, video_frames

pytestmark = pytest.mark.e2e

CLERK_PASSWORD = "courtroom clerk's long password"

WEBRTC_FLAGS = [*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection"]


@pytest.fixture
async def webrtc_browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=chromium_path,
                                                    args=WEBRTC_FLAGS)
        try:
            yield instance
        finally:
            await instance.close()


STATE = """(name) => {
    const s = window[name];
    return {state: s.state, errors: s.errors, codec: s.codec || null,
            bitrate: s.bitrate || 0, delays: s.delays || []};
}"""


async def state_of(page: Any, name: str) -> dict[str, Any]:
    # Read from here: wait_for_function evaluates strings, which the portal's CSP forbids.
    return dict(await page.evaluate(STATE, name))


async def wait_page_state(page: Any, name: str, wanted: str, timeout: float = 30) -> None:
    async def probe() -> bool:
        state = await state_of(page, name)
        assert state["state"] != "failed", state
        return bool(state["state"] == wanted)

    await eventually(probe, timeout=timeout, what=f"{name} to be {wanted}")


async def signed_in_clerk(browser: Any, server: RunningServer, hearing: dict[str, Any]) -> Any:
    """A page of a new browser context, signed in as a clerk of the hearing's court."""
    court = hearing["court_id"]
    username = f"clerk.{court}"
    create_account(server, username, CLERK_PASSWORD, "--role", "clerk", "--court", str(court))
    page = await (await browser.new_context()).new_page()
    await sign_in(page, server, username, CLERK_PASSWORD)
    return page


async def start_publisher(browser: Any, server: RunningServer, hearing: dict[str, Any],
                          query: str) -> Any:
    """The clerk opens the hearing's publish page from its clerk page and starts."""
    page = await signed_in_clerk(browser, server, hearing)
    await page.goto(server.url(f"/clerk/hearings/{hearing['id']}"))
    await page.click("#publish-link")
    await page.wait_for_url(f"**/hearings/{hearing['id']}/publish")
    await page.goto(f"{page.url}?{query}")
    await page.select_option("#quality", "360")  # small: two cores are shared
    await page.click("#start")
    await wait_page_state(page, "courtcastPublisher", "connected")
    return page


async def stop_publisher(page: Any) -> None:
    await page.click("#stop")
    await wait_page_state(page, "courtcastPublisher", "closed")
    assert (await state_of(page, "courtcastPublisher"))["errors"] == []
    await page.close()


def vfr_decode_errors(target: str | Path, *input_args: str) -> str:
    """WebRTC video has a variable frame rate: the ffmpeg CLI's null output otherwise assumes
    the rate it guessed and reports frames closer together than that as muxing errors."""
    return decode_errors(target, "-vsync", "vfr", *input_args)


@pytest.fixture(autouse=True)
def _decode_as_vfr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_live_spine, "decode_errors", vfr_decode_errors)


def check_replay_run(run: Path, seconds: float) -> None:
    assert vfr_decode_errors(run) == ""
    streams = ffprobe_json(run, "-show_streams")["streams"]
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"], streams
    duration = media_duration(run)
    assert abs(duration - seconds) <= 1.5, (duration, seconds)
    assert video_frames(run) >= duration * 10, "frames were lost"


@pytest.mark.parametrize("codec", ["h264", "vp8", "vp9"])
async def test_browser_publishes_over_whip(
    server: RunningServer, webrtc_browser: Any, tmp_path: Path, codec: str
) -> None:
    hearing = await create_hearing(server, f"61{len(codec)}")
    page = await start_publisher(webrtc_browser, server, hearing, f"codec={codec}")
    connected = time.monotonic()
    assert (await state_of(page, "courtcastPublisher"))["codec"] == codec.upper()
    await wait_status(server, hearing["id"], "live")
    if codec == "h264":  # the live broadcast plays while the browser publishes
        await play_in_chromium(webrtc_browser, hearing["page_url"])
    else:
        await asyncio.sleep(6)
    assert (await state_of(page, "courtcastPublisher"))["bitrate"] > 50_000
    await stop_publisher(page)
    sent = time.monotonic() - connected
    if codec == "h264":  # the same hearing continues from an RTMP encoder
        assert await publish(hearing["rtmp_url"], duration=4, settings=SMALL) == 0

    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    replay = await replay_files(server, hearing["playback_url"], tmp_path)
    assert len(replay["runs"]) == (2 if codec == "h264" else 1), replay["media"]
    check_replay_run(replay["runs"][0], sent)
    await play_in_chromium(webrtc_browser, hearing["page_url"], seconds=2)


RECONNECT_STATE = """(name) => ({state: window[name].state, session: window[name].session,
    reconnects: window[name].keeper ? window[name].keeper.reconnects : 0})"""


async def back_again(page: Any, name: str, dropped_session: str) -> None:
    async def probe() -> bool:
        state = await page.evaluate(RECONNECT_STATE, name)
        return bool(state["state"] == "connected" and state["reconnects"] >= 1
                    and state["session"] not in (None, dropped_session))

    await eventually(probe, timeout=40, what=f"{name} to connect again by itself")


async def test_publisher_and_monitor_reconnect_by_themselves(
    server: RunningServer, webrtc_browser: Any, tmp_path: Path
) -> None:
    """The server drops both sessions (as in a restart or a cut network): the publish page and
    the monitor connect again on their own, and the hearing continues after a discontinuity."""
    hearing = await create_hearing(server, "630")
    page = await start_publisher(webrtc_browser, server, hearing, "codec=h264")
    await wait_status(server, hearing["id"], "live")
    monitor = await page.context.new_page()
    await monitor.goto(server.url(f"/hearings/{hearing['id']}/monitor"))
    await monitor.click("#watch")
    await wait_page_state(monitor, "courtcastWhep", "connected")
    await asyncio.sleep(3)
    sessions = [await page.evaluate("window.courtcastPublisher.session"),
                await monitor.evaluate("window.courtcastWhep.session")]
    async with aiohttp.ClientSession() as http:
        for session in sessions:
            async with http.delete(session) as response:
                assert response.status == 200
    dropped = time.monotonic()
    await back_again(page, "courtcastPublisher", sessions[0])
    print(f"\nthe browser publisher was back {time.monotonic() - dropped:.1f} s after the drop")
    await back_again(monitor, "courtcastWhep", sessions[1])
    print(f"the monitor was back {time.monotonic() - dropped:.1f} s after the drop")
    await asyncio.sleep(5)
    await monitor.click("#stop")
    await stop_publisher(page)
    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)
    replay = await replay_files(server, hearing["playback_url"], tmp_path)
    assert len(replay["runs"]) == 2, replay["media"]  # before and after the drop
    for run in replay["runs"]:
        assert vfr_decode_errors(run) == ""
        assert video_frames(run) >= 3 * 10, "each part holds seconds of video"


async def test_monitor_glass_to_glass_delay(server: RunningServer, webrtc_browser: Any) -> None:
    hearing = await create_hearing(server, "620")
    publisher = await start_publisher(webrtc_browser, server, hearing,
                                      "codec=h264&video=pattern")
    # The same clerk watches in another tab: the page's WHEP request is signed in.
    monitor = await publisher.context.new_page()
    await monitor.goto(server.url(f"/hearings/{hearing['id']}/monitor?measure=1"))
    await monitor.click("#watch")
    await wait_page_state(monitor, "courtcastWhep", "connected")

    async def measured() -> list[int] | None:
        delays = (await state_of(monitor, "courtcastWhep"))["delays"]
        return delays if len(delays) >= 90 else None

    delays = (await eventually(measured, timeout=30, what="90 frames read on the monitor"))[-90:]
    audio = await monitor.evaluate("""async () => {
        let bytes = 0;
        (await window.courtcastWhep.pc.getStats()).forEach(s => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') bytes += s.bytesReceived; });
        return bytes; }""")
    median, worst = statistics.median(delays), max(delays)
    print(f"\nWHEP glass-to-glass delay over {len(delays)} frames: median {median:.0f} ms, "
          f"p90 {statistics.quantiles(delays, n=10)[-1]:.0f} ms, max {worst} ms")
    await monitor.click("#stop")
    await stop_publisher(publisher)
    assert audio > 1000, "the monitor receives the hearing's audio (AAC -> Opus)"
    assert median < 500, delays
