"""A ladder hearing end to end: a real encoder, PyAV renditions, hls.js choosing among them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from courtcast.simulator import EncoderSettings, publish
from tests.e2e.conftest import RunningServer
from tests.e2e.test_live_spine import create_hearing, fetch, playlist_entries, wait_status
from tests.helpers import decode_errors, eventually, ffprobe_json

pytestmark = pytest.mark.e2e

SOURCE_480P = EncoderSettings(width=854, height=480, video_bitrate="900k")


def keyframe_times(path: Path) -> list[float]:
    data = ffprobe_json(path, "-select_streams", "v:0", "-skip_frame", "nokey",
                        "-show_entries", "frame=pts_time")
    return [round(float(f["pts_time"]), 2) for f in data["frames"]]


async def test_a_ladder_hearing_offers_aligned_renditions(
    server: RunningServer, browser: Any, tmp_path: Path
) -> None:
    hearing = await create_hearing(server, "601", profile="ladder")
    assert await publish(hearing["rtmp_url"], duration=10, settings=SOURCE_480P) == 0
    await wait_status(server, hearing["id"], "live")
    await server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)

    master_url = server.url(hearing["playback_url"])
    master = (await fetch(master_url)).decode()
    variants = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
    assert len(variants) >= 3, master  # source, 360p, audio only
    for attribute in ("BANDWIDTH=", "AVERAGE-BANDWIDTH=", "CODECS="):
        assert all(attribute in v for v in variants), master
    video = [v for v in variants if "RESOLUTION=" in v]
    assert len(video) >= 2 and all("FRAME-RATE=" in v for v in video), master

    keyframes: dict[str, list[float]] = {}
    for uri in (line for line in master.splitlines() if line and not line.startswith("#")):
        media_url = urljoin(master_url, uri)
        entries = playlist_entries((await fetch(media_url)).decode())
        path = tmp_path / uri.replace("/", "_")
        path.write_bytes(await fetch(urljoin(media_url, entries[0]["init"])))
        for entry in entries:
            with path.open("ab") as handle:
                handle.write(await fetch(urljoin(media_url, entry["uri"])))
        assert decode_errors(path) == "", uri
        streams = ffprobe_json(path, "-show_streams")["streams"]
        if any(s["codec_type"] == "video" for s in streams):
            keyframes[uri] = keyframe_times(path)
    assert len(set(map(tuple, keyframes.values()))) == 1, f"keyframes differ: {keyframes}"

    poster = await fetch(urljoin(master_url, "poster.jpg"))
    assert poster[:3] == b"\xff\xd8\xff", "the poster is public with the moment it shows"
    _, page_html = await server.get_text(f"/hearings/{hearing['id']}")
    assert 'poster="' in page_html, "the player shows the poster before playback"
    _, home = await server.get_text("/")
    assert 'class="poster-image"' in home, "cards show the poster"

    page = await browser.new_page()
    await page.goto(hearing["page_url"])

    async def levels() -> int:
        return int(await page.evaluate(
            "() => (window.courtcastPlayer && window.courtcastPlayer.hls"
            " && window.courtcastPlayer.hls.levels) ? window.courtcastPlayer.hls.levels.length"
            " : 0"))

    assert await eventually(levels, timeout=30, what="hls.js to load the levels") >= 2

    async def scrubber_shown() -> bool:
        return bool(await page.evaluate("() => !document.getElementById('scrubber').hidden"))

    await eventually(scrubber_shown, timeout=10, what="the seek bar with previews")
    await page.locator("#seek").scroll_into_view_if_needed()
    box = await page.locator("#seek").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 3, box["y"] + box["height"] / 2)
    preview = await page.evaluate("""() => {
        const p = document.getElementById('seek-preview');
        return {hidden: p.hidden, image: p.style.backgroundImage, width: p.style.width};
    }""")
    assert not preview["hidden"] and "thumbs/0.jpg" in preview["image"], preview
    await asyncio.sleep(1)
    assert await page.evaluate("window.courtcastPlayer.errors") == []
    await page.close()
