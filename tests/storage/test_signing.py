"""Playback from a private bucket: playlists from the portal with presigned media URIs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from courtcast.catalog.service import Catalog
from courtcast.config import Config, HostPort, S3Settings
from courtcast.storage.base import IMMUTABLE, LIVE_PLAYLIST, ObjectMeta
from courtcast.storage.s3 import S3Storage
from courtcast.storage.s3client import S3Client, S3Location
from courtcast.storage.signing import UrlSigner
from courtcast.web.app import create_app
from courtcast.web.services import WebServices
from tests.storage.conftest import MakeStorage
from tests.storage.proxy import RecordingProxy
from tests.storage.s3server import S3Server

SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", LIVE_PLAYLIST)
MEDIA_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init-0.mp4"
#EXTINF:2.000,
000000.m4s
#EXTINF:2.000,
https://elsewhere.example/000001.m4s
#EXTINF:2.000,
../../../outside.m4s
"""
MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2"
source/index.m3u8
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_media_uris_become_presigned_urls_and_playlists_stay_relative() -> None:
    signer = UrlSigner(lambda key, seconds: f"https://bucket.example/{key}?sig&t={seconds}", 600)
    media = signer.rewrite("public/1/source/index.m3u8", MEDIA_PLAYLIST).splitlines()
    assert '#EXT-X-MAP:URI="https://bucket.example/public/1/source/init-0.mp4?sig&t=600"' in media
    assert "https://bucket.example/public/1/source/000000.m4s?sig&t=600" in media
    assert "https://elsewhere.example/000001.m4s" in media, "absolute URIs are left alone"
    assert "../../../outside.m4s" in media, "nothing outside public/ is signed"
    master = signer.rewrite("public/1/master.m3u8", MASTER)
    assert master.splitlines()[-1] == "source/index.m3u8", "nested playlists come from the portal"


def test_a_presigned_url_is_reused_while_half_its_life_remains() -> None:
    signed: list[str] = []

    def presign(key: str, seconds: int) -> str:
        signed.append(key)
        return f"https://bucket.example/{key}?n={len(signed)}"

    clock = Clock()
    signer = UrlSigner(presign, 600, clock)
    first = signer.url("public/1/source/000000.m4s")
    clock.now += 299
    assert signer.url("public/1/source/000000.m4s") == first
    clock.now += 2
    assert signer.url("public/1/source/000000.m4s") != first
    assert len(signed) == 2


@pytest.fixture
async def signed(make_storage: MakeStorage) -> S3Storage:
    storage = make_storage(signed_url_seconds=600)
    await storage.put("public/1/source/000000.m4s", b"segment bytes", SEGMENT)
    await storage.put("public/1/source/index.m3u8", MEDIA_PLAYLIST.encode(), PLAYLIST)
    await storage.put("public/1/master.m3u8", MASTER.encode(), PLAYLIST)
    await storage.put("record/1-x/source/index.m3u8", MEDIA_PLAYLIST.encode(), PLAYLIST)
    await storage.drained(timeout=20)
    return storage


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


async def test_a_private_bucket_plays_through_presigned_urls(
    signed: S3Storage, s3: S3Server, bucket: str
) -> None:
    assert signed.public_url("public/1/master.m3u8") == "/media/public/1/master.m3u8"
    segment_url = signed.public_url("public/1/source/000000.m4s")
    assert "X-Amz-Signature=" in segment_url
    assert await fetch(segment_url) == (200, b"segment bytes")
    plain = f"{s3.endpoint}/{bucket}/cc/public/1/source/000000.m4s"
    assert (await fetch(plain))[0] == 403, "the bucket itself stays private"
    playlist = (await signed.viewer_playlist("public/1/source/index.m3u8")).decode()
    assert segment_url in playlist.splitlines()


@pytest.fixture
async def portal(signed: S3Storage, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    config = Config(data_dir=tmp_path, http=HostPort("127.0.0.1", 0),
                    rtmp=HostPort("127.0.0.1", 0),
                    database_url=f"sqlite:///{tmp_path / 'catalog.db'}",
                    storage_url="s3://bucket/cc", s3=S3Settings(signed_url_seconds=600))
    catalog = Catalog(config.database_url)
    catalog.migrate()
    services = WebServices(config, catalog, signed, broadcasts=None)  # type: ignore[arg-type]
    async with TestClient(TestServer(create_app(services))) as client:
        yield client
    catalog.close()


async def test_the_portal_serves_signed_playlists_and_nothing_else(
    portal: TestClient[Any, Any], signed: S3Storage, s3: S3Server
) -> None:
    response = await portal.get("/media/public/1/source/index.m3u8")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, max-age=1"
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert signed.public_url("public/1/source/000000.m4s") in await response.text()
    for path in ("record/1-x/source/index.m3u8", "public/1/source/000000.m4s",
                 "public/9/master.m3u8", "public/1/../../record/1-x/source/index.m3u8"):
        assert (await portal.get(f"/media/{path}")).status == 404, path
    home = await portal.get("/")
    assert s3.endpoint in home.headers["Content-Security-Policy"], "segments come from S3"


async def test_viewers_never_get_a_playlist_still_in_the_spool(
    s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    proxy = RecordingProxy(s3.endpoint, bucket)
    proxy.delay = lambda method, key: 1.5 if method == "PUT" and key.endswith("000001.m4s") else 0
    async with proxy.running():
        client = S3Client(S3Location(bucket, "", proxy.endpoint, "path"))
        storage = S3Storage(client, tmp_path / "spool", signed_url_seconds=600)
        try:
            await storage.put("public/1/source/000000.m4s", b"0", SEGMENT)
            await storage.put("public/1/source/index.m3u8", b"#EXTM3U\n000000.m4s\n", PLAYLIST)
            await storage.drained(timeout=20)
            await storage.put("public/1/source/000001.m4s", b"1", SEGMENT)  # slow to upload
            await storage.put("public/1/source/index.m3u8",
                              b"#EXTM3U\n000000.m4s\n000001.m4s\n", PLAYLIST)
            served = await storage.viewer_playlist("public/1/source/index.m3u8")
            assert b"000001.m4s" not in served, "it names a segment not in the bucket yet"
            await storage.drained(timeout=20)
        finally:
            await storage.close()
