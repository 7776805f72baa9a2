"""`courtcast serve --storage s3://...` against moto's server (a real HTTP S3 endpoint, in this
test process): a real ffmpeg publisher, Chromium playing from the bucket's URLs, and an outage of
the endpoint in the middle of a live hearing that loses nothing.

moto's server does not enforce CORS but does answer it (its Flask app is wrapped in flask-cors,
echoing the page's Origin), so hls.js fetches from it cross-origin as from a bucket configured
for browsers: no CORS-adding proxy is needed in front of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from courtcast.simulator import EncoderSettings, publish
from tests.e2e.conftest import RunningServer, serving
from tests.e2e.test_live_spine import (
    create_hearing,
    fetch,
    play_in_chromium,
    playlist_entries,
    replay_files,
    wait_status,
)
from tests.helpers import decode_errors, eventually, video_frames
from tests.storage.s3server import CREDENTIALS, S3Server

pytestmark = pytest.mark.e2e

SMALL = EncoderSettings(width=640, height=360, video_bitrate="600k")
PREFIX = "courtcast"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    for name, value in CREDENTIALS.items():  # inherited by the courtcast subprocess
        monkeypatch.setenv(name, value)
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3: S3Server) -> str:
    # As an operator would grant it: the public view is readable by anyone, the record is not.
    return s3.new_bucket(public_prefix=f"{PREFIX}/public/")


@pytest.fixture
async def s3_server(
    tmp_path: Path, s3: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningServer]:
    """`courtcast serve --storage s3://BUCKET/PREFIX --s3-endpoint URL --public-media-url URL`,
    given through the options' environment variables (`token create` shares the extra options
    of `serving` and has no storage options)."""
    monkeypatch.setenv("COURTCAST_STORAGE_URL", f"s3://{bucket}/{PREFIX}")
    monkeypatch.setenv("COURTCAST_S3_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("COURTCAST_PUBLIC_MEDIA_URL", f"{s3.endpoint}/{bucket}/{PREFIX}")
    async for running in serving(tmp_path / "data"):
        yield running


async def replay_in_bucket(playback_url: str, timeout: float) -> str:
    """The public media playlist once the ended hearing's final version is in the bucket."""
    media_url = playback_url.replace("master.m3u8", "source/index.m3u8")

    async def final() -> str | None:
        try:
            text = (await fetch(media_url)).decode()
        except AssertionError:  # not there yet
            return None
        return text if "#EXT-X-ENDLIST" in text else None

    return await eventually(final, timeout=timeout, what="the final playlist in the bucket")


async def test_viewers_play_live_and_replay_from_the_bucket(
    s3_server: RunningServer, s3: S3Server, bucket: str, browser: Any, tmp_path: Path
) -> None:
    hearing = await create_hearing(s3_server, "501")
    base = f"{s3.endpoint}/{bucket}/{PREFIX}"
    assert hearing["playback_url"] == f"{base}/public/{hearing['id']}/master.m3u8"
    sent_seconds = 10
    encoder = asyncio.create_task(publish(hearing["rtmp_url"], duration=sent_seconds,
                                          settings=SMALL))
    await wait_status(s3_server, hearing["id"], "live")
    await play_in_chromium(browser, hearing["page_url"])  # hls.js fetching from the bucket
    assert await encoder == 0
    await s3_server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)

    await replay_in_bucket(hearing["playback_url"], timeout=30)
    replay = await replay_files(s3_server, hearing["playback_url"], tmp_path)
    assert video_frames(replay["runs"][0]) == sent_seconds * SMALL.fps
    client = s3.client()
    public = f"{PREFIX}/public/{hearing['id']}"
    expected = {
        f"{public}/master.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=86400"),
        f"{public}/source/index.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=86400"),
        f"{public}/source/000000.m4s": ("video/iso.segment", "public, max-age=31536000, immutable"),
    }
    for key, (content_type, cache) in expected.items():
        head = client.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache), key
    record = [k for k in s3.keys(bucket, f"{PREFIX}/record/{hearing['id']}-") if k.endswith(".m4s")]
    assert len(record) == len(replay["entries"])
    status, _ = await s3_server.get_text(f"{s3.endpoint}/{bucket}/{record[0]}")
    assert status == 403, "the court's record is not public"
    state = await play_in_chromium(browser, hearing["page_url"])
    assert state["first"] < 2.0, "the replay starts from the beginning"


async def test_a_storage_outage_mid_hearing_loses_nothing(
    s3_server: RunningServer, s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    hearing = await create_hearing(s3_server, "502")
    sent_seconds, outage_seconds = 36, 22
    encoder = asyncio.create_task(publish(hearing["rtmp_url"], duration=sent_seconds,
                                          settings=SMALL))
    await wait_status(s3_server, hearing["id"], "live")
    await asyncio.sleep(4)
    s3.stop()
    try:
        await asyncio.sleep(outage_seconds / 2)
        # The hearing goes on while storage is down: still live, the portal answers.
        assert (await s3_server.api("GET", f"/api/v1/hearings/{hearing['id']}"))["status"] == "live"
        assert not encoder.done()
        _, metrics = await s3_server.get_text("/metrics")
        assert spooled(metrics) > 0, "segments wait in the spool"
        await asyncio.sleep(outage_seconds / 2)
    finally:
        s3.start()
    assert await encoder == 0
    await s3_server.api("POST", f"/api/v1/hearings/{hearing['id']}/end", expect=200)

    media = await replay_in_bucket(hearing["playback_url"], timeout=60)
    entries = playlist_entries(media)
    assert [e["uri"] for e in entries] == [f"{n:06d}.m4s" for n in range(len(entries))]
    stored = s3.keys(bucket, f"{PREFIX}/public/{hearing['id']}/source/")
    assert [k.rsplit("/", 1)[1] for k in stored if k.endswith(".m4s")] == [
        e["uri"] for e in entries], "every segment is in the bucket, in order"
    replay = await replay_files(s3_server, hearing["playback_url"], tmp_path)
    assert len(replay["runs"]) == 1
    assert decode_errors(replay["runs"][0]) == ""
    assert video_frames(replay["runs"][0]) == sent_seconds * SMALL.fps, "no frame lost"
    _, metrics = await s3_server.get_text("/metrics")
    assert sample(metrics, "courtcast_storage_upload_failures_total") > 0
    await eventually(lambda: _spool_empty(s3_server), timeout=30, what="the spool to drain")
    assert "spooling on local disk" in s3_server.log()
    assert "storage reachable again" in s3_server.log()


def sample(metrics: str, name: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith(f"{name} "))
    return float(line.split()[1])


def spooled(metrics: str) -> float:
    return sample(metrics, "courtcast_spool_objects")


async def _spool_empty(server: RunningServer) -> bool:
    _, metrics = await server.get_text("/metrics")
    return spooled(metrics) == 0 and sample(metrics, "courtcast_spool_bytes") == 0
