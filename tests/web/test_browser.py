"""Smoke test of the portal in the Debian Chromium: pages load cleanly and the player plays.

Real ingest-to-browser playback is the live spine's test (tests/e2e); here a few seconds of
H.264 made with PyAV stand in for a hearing's public playlist.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from courtcast.catalog.service import Catalog
from courtcast.config import Config
from tests.helpers import eventually
from tests.web.conftest import Seed

pytestmark = pytest.mark.e2e

Client = TestClient[Any, Any]
CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def write_hls(directory: Path, seconds: int = 3) -> None:
    """A VOD fMP4 playlist `master.m3u8` of `seconds` one-second segments of moving grey."""
    directory.mkdir(parents=True, exist_ok=True)
    options = {"hls_segment_type": "fmp4", "hls_time": "1", "hls_playlist_type": "vod",
               "hls_fmp4_init_filename": "init.mp4"}
    with av.open(str(directory / "master.m3u8"), "w", format="hls", options=options) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "25"}
        for index in range(25 * seconds):
            frame = av.VideoFrame(320, 180, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(index * 5) % 256]) * plane.buffer_size)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM, "Chromium is needed: apt-get install chromium (or deselect -m 'not e2e')"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def open_page(browser: Browser, errors: list[str]) -> Page:
    page = await browser.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


async def playing(page: Page, beyond: float) -> None:
    # Polled from here: wait_for_function evaluates strings, which the portal's CSP forbids.
    probe = f"window.courtcastPlayer && window.courtcastPlayer.video.currentTime > {beyond}"
    await eventually(lambda: page.evaluate(probe), timeout=20, what="playback")


async def test_home_and_hearing_pages(
    client: Client, browser: Browser, seed: Seed, config: Config
) -> None:
    assert config.media_dir is not None
    write_hls(config.media_dir / "public" / str(seed.ended))
    base = str(client.make_url(""))
    errors: list[str] = []
    page = await open_page(browser, errors)

    await page.goto(f"{base}/")
    assert await page.locator(f'a[href="/hearings/{seed.live}"]').count() == 1
    await page.goto(f"{base}/hearings/{seed.ended}?t=1")
    assert await page.evaluate("typeof window.Hls") == "function"
    await playing(page, 1.2)  # started at ?t=1, not at 0
    assert await page.evaluate("window.courtcastPlayer.hls !== null")
    await page.select_option("#speed", "1.5")
    assert await page.evaluate("window.courtcastPlayer.video.playbackRate") == 1.5
    await page.click("#copy-moment")
    link = await page.input_value("#moment-url")
    assert link.startswith(f"{base}/hearings/{seed.ended}?t=")
    assert await page.evaluate("window.courtcastPlayer.errors") == []
    assert errors == []


async def test_scheduled_page_starts_when_the_hearing_goes_live(
    client: Client,
    browser: Browser,
    seed: Seed,
    config: Config,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("courtcast.web.pages.STATUS_POLL_SECONDS", 0.5)
    errors: list[str] = []
    page = await open_page(browser, errors)
    await page.goto(str(client.make_url(f"/hearings/{seed.scheduled}")))
    assert await page.is_visible("#player-notice")
    assert config.media_dir is not None
    write_hls(config.media_dir / "public" / str(seed.scheduled))
    catalog.set_status(seed.scheduled, "live")
    await page.wait_for_selector("#player-notice", state="hidden", timeout=10_000)
    assert await page.text_content("#status-badge") == "Live"
    await playing(page, 0.2)
    assert await page.evaluate("window.courtcastPlayer.errors") == []
    assert errors == []
