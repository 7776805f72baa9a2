"""What reaches the S3 endpoint, in which order, seen by a recording proxy in front of moto."""

from __future__ import annotations

import time
from pathlib import Path

from courtcast.storage.base import IMMUTABLE, LIVE_PLAYLIST, ObjectMeta
from courtcast.storage.s3 import S3Storage
from courtcast.storage.s3client import S3Client, S3Location
from tests.storage.conftest import FAST_BACKOFF
from tests.storage.proxy import Exchange, RecordingProxy
from tests.storage.s3server import S3Server

SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", LIVE_PLAYLIST)
SLOW_SEGMENT = 0.4  # seconds the endpoint takes for each segment PUT


def storage_behind(proxy: RecordingProxy, spool: Path) -> S3Storage:
    client = S3Client(S3Location(proxy.bucket, "", proxy.endpoint, "path"))
    return S3Storage(client, spool, concurrency=8, backoff=FAST_BACKOFF)


def put_of(proxy: RecordingProxy, key: str) -> Exchange:
    [exchange] = [e for e in proxy.puts() if e.key == key]
    return exchange


async def test_playlists_reach_storage_after_their_segments_and_lanes_do_not_wait(
    s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    proxy = RecordingProxy(s3.endpoint, bucket)
    proxy.delay = lambda method, key: SLOW_SEGMENT if key.startswith("public/1/") and \
        key.endswith(".m4s") else 0.0
    async with proxy.running():
        storage = storage_behind(proxy, tmp_path / "spool")
        try:
            for n in range(3):
                await storage.put(f"public/1/source/{n:06d}.m4s", b"segment", SEGMENT)
            await storage.put("public/1/source/index.m3u8", b"three segments", PLAYLIST)
            await storage.put("public/1/source/000003.m4s", b"segment", SEGMENT)
            await storage.put("public/2/source/index.m3u8", b"another hearing", PLAYLIST)
            returned = time.monotonic()
            await storage.drained(timeout=30)
        finally:
            await storage.close()

    segments = [put_of(proxy, f"public/1/source/{n:06d}.m4s") for n in range(4)]
    playlist = put_of(proxy, "public/1/source/index.m3u8")
    assert returned < segments[0].finished, "writes return before a slow endpoint answers"
    assert playlist.started >= max(s.finished for s in segments[:3]), "never before its segments"
    assert segments[1].started < segments[0].finished, "segments upload concurrently"
    assert segments[3].started < playlist.started, "a segment does not wait for a playlist"
    other = put_of(proxy, "public/2/source/index.m3u8")
    assert other.finished < segments[0].finished, "another hearing's lane does not wait"


async def test_a_playlist_superseded_while_waiting_is_uploaded_once(
    s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    proxy = RecordingProxy(s3.endpoint, bucket)
    proxy.delay = lambda method, key: 1.0 if key.endswith("000000.m4s") else 0.0
    async with proxy.running():
        storage = storage_behind(proxy, tmp_path / "spool")
        try:
            await storage.put("public/1/source/000000.m4s", b"slow segment", SEGMENT)
            for version in range(5):
                await storage.put("public/1/source/index.m3u8", f"v{version}".encode(), PLAYLIST)
            await storage.drained(timeout=30)
        finally:
            await storage.close()
    playlists = [e for e in proxy.puts() if e.key.endswith("index.m3u8")]
    assert [e.body for e in playlists] == [b"v4"]
