"""The ladder's output played by hls.js in headless Chromium, switching level every second."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from courtcast.media import TrackInfo
from courtcast.transcode.ladder import Rung, master_variants, plan_renditions
from courtcast.transcode.playlist import (
    BandwidthMeter,
    MediaPlaylist,
    PlaylistSegment,
    render_master_playlist,
)
from courtcast.transcode.renditions import (
    Event,
    RenditionEngine,
    RenditionSegment,
    RenditionStarted,
    TranscodeOptions,
)
from courtcast.transcode.segmenter import SegmentOutput
from tests.helpers import free_port
from tests.transcode.clips import Clip

pytestmark = pytest.mark.e2e
T0 = datetime(2026, 11, 21, tzinfo=UTC)
HLS_JS = Path(__file__).resolve().parents[2] / "node_modules" / "hls.js" / "dist" / "hls.min.js"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
PAGE = """<!doctype html><video id=v muted></video><script src=hls.min.js></script><script>
window.report = {switched: [], fragments: [], errors: []};
const video = document.getElementById('v'), hls = new Hls({startLevel: 0});
hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => report.switched.push(d.level));
hls.on(Hls.Events.FRAG_CHANGED, (_, d) => report.fragments.push([d.frag.level, d.frag.sn]));
hls.on(Hls.Events.ERROR, (_, d) => report.errors.push(d.details + (d.fatal ? ' fatal' : '')));
hls.loadSource('master.m3u8'); hls.attachMedia(video); video.play();
let next = 0;
setInterval(() => { next = (next + 1) % hls.levels.length; hls.nextLevel = next; }, 1000);
</script>"""


def write_hls(directory: Path, clip: Clip) -> None:
    """The ladder of the clip as a VOD: master, one media playlist per rendition, segments."""
    segments: dict[str, list[SegmentOutput]] = defaultdict(list)
    tracks: dict[str, tuple[TrackInfo, ...]] = {}

    def emit(event: Event) -> None:
        if isinstance(event, RenditionSegment):
            segments[event.rendition].append(event.output)
        elif isinstance(event, RenditionStarted):
            tracks[event.rendition] = event.tracks

    plan = plan_renditions(clip.tracks, "ladder", ladder=(Rung("180p", 180, 200_000),))
    engine = RenditionEngine(plan, plan.renditions, TranscodeOptions(), emit)
    engine.start(clip.tracks)
    for packet in clip.packets:
        engine.write(packet, T0)
    engine.flush()
    meters = {}
    for name, outputs in segments.items():
        (directory / name).mkdir()
        meters[name] = BandwidthMeter(2.0)
        entries = []
        for output in outputs:
            (directory / name / f"init-{output.init_id}.mp4").write_bytes(output.init)
            (directory / name / f"{output.sequence:06d}.m4s").write_bytes(output.data)
            meters[name].add(output.size, output.duration)
            entries.append(PlaylistSegment(f"{output.sequence:06d}.m4s", output.duration,
                                           init_uri=f"init-{output.init_id}.mp4"))  # fmt: skip
        playlist = MediaPlaylist(entries, 2.0, ended=True).render()
        (directory / name / "index.m3u8").write_text(playlist)
    renditions = {n: (tracks[n], meters[n]) for n in segments if n != "audio"}
    variants = master_variants(renditions, lambda name: f"{name}/index.m3u8")
    (directory / "master.m3u8").write_text(render_master_playlist(variants))
    (directory / "index.html").write_text(PAGE)
    shutil.copy(HLS_JS, directory / "hls.min.js")


@pytest.fixture
async def served(clip: Clip, tmp_path: Path) -> AsyncIterator[str]:
    if not HLS_JS.exists():
        pytest.skip("hls.js is not installed (npm ci)")
    write_hls(tmp_path, clip)
    app = web.Application()
    app.router.add_static("/", tmp_path)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        await runner.cleanup()


async def test_hls_js_switches_between_renditions(served: str) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(served)
            await page.wait_for_function(
                "document.getElementById('v').currentTime > 9.0", timeout=40_000
            )
            report = await page.evaluate("window.report")
        finally:
            await browser.close()
    assert not [e for e in report["errors"] if "fatal" in e], report["errors"]
    assert len(set(report["switched"])) >= 2, report
    assert len({level for level, _ in report["fragments"]}) >= 2, report
