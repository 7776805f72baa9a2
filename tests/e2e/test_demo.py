"""`courtcast demo`, the README's first command: a live hearing and replays within a minute."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer, serving, sign_in
from tests.e2e.test_live_spine import play_in_chromium
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async for running in serving(tmp_path / "data", command="demo"):
        yield running


async def test_demo_is_live_within_a_minute_with_replays(demo: RunningServer, browser: Any) -> None:
    async def printed_url() -> re.Match[str] | None:
        return re.search(r"Live hearing:\s+(\S+)", demo.log())

    printed = await eventually(printed_url, timeout=60,
                               what="the demo to print the live hearing's URL")
    hearing_id = int(printed.group(1).rsplit("/", 1)[1])

    async def live() -> bool:
        body = await demo.api("GET", f"/api/v1/hearings/{hearing_id}", auth=False)
        return bool(body["status"] == "live")

    await eventually(live, timeout=60, what="the simulated courtroom to be live")
    await play_in_chromium(browser, printed.group(1))

    async def replays() -> list[Any] | None:
        ended = await demo.api("GET", "/api/v1/hearings?status=ended", auth=False)
        return ended["items"] if len(ended["items"]) >= 2 else None

    for replay in await eventually(replays, timeout=90, what="the demo's replays"):
        status, master = await demo.get_text(replay["playback_url"])
        assert status == 200 and "#EXT-X-STREAM-INF" in master
    _, home = await demo.get_text("/")
    assert f"/hearings/{hearing_id}" in home
    _, courts = await demo.get_text("/courts")
    assert "最高人民法院" in courts


async def test_the_demo_prints_a_staff_sign_in(demo: RunningServer, browser: Any) -> None:
    async def printed() -> re.Match[str] | None:
        return re.search(r"Staff sign-in:\s+\S+\s+user (\S+), password (\S+)", demo.log())

    found = await eventually(printed, timeout=60, what="the demo to print a staff sign-in")
    page = await browser.new_page()
    await sign_in(page, demo, found.group(1), found.group(2))
    await page.goto(f"{demo.base_url}/clerk")
    assert "/clerk/hearings/" in await page.content()  # the seeded hearings, with controls
    await page.close()

