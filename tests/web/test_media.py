"""Local media serving: headers, range requests, and nothing outside public/."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from courtcast.config import Config
from courtcast.web.app import create_app
from courtcast.web.media import _safe_relative
from courtcast.web.services import WebServices

Client = TestClient[Any, Any]
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:7\n"
SEGMENT = bytes(range(256)) * 64


@pytest.fixture
def media(config: Config) -> Path:
    root = config.media_dir
    assert root is not None
    files = {
        "public/1/master.m3u8": PLAYLIST,
        "public/1/source/init.mp4": b"init",
        "public/1/source/000000.m4s": SEGMENT,
        "public/1/source/000001.ts": b"G" * 188,
        "public/1/source/.tmp-abc": b"half",
        "record/tok/1/source/000000.m4s": b"the court's record",
    }
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    (root / "public" / "1" / "escape").symlink_to(root / "record")
    return root


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("public/1/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=1"),
        ("public/1/source/init.mp4", "video/mp4", "public, max-age=31536000, immutable"),
        ("public/1/source/000000.m4s", "video/mp4", "public, max-age=31536000, immutable"),
        ("public/1/source/000001.ts", "video/mp2t", "public, max-age=31536000, immutable"),
    ],
)
async def test_serves_public_media_with_headers(
    client: Client, media: Path, path: str, content_type: str, cache: str
) -> None:
    response = await client.get(f"/media/{path}")
    assert response.status == 200
    assert await response.read() == (media / path).read_bytes()
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == cache
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_range_requests_and_head(client: Client, media: Path) -> None:
    response = await client.get("/media/public/1/source/000000.m4s",
                                headers={"Range": "bytes=10-19"})
    assert response.status == 206
    assert await response.read() == SEGMENT[10:20]
    head = await client.head("/media/public/1/source/000000.m4s")
    assert head.status == 200 and head.headers["Content-Length"] == str(len(SEGMENT))
    preflight = await client.options("/media/public/1/master.m3u8")
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "path",
    [
        "/media/record/tok/1/source/000000.m4s",
        "/media/public/../record/tok/1/source/000000.m4s",
        "/media/public/%2E%2E/record/tok/1/source/000000.m4s",
        "/media/public/1/%2E%2E/%2E%2E/record/tok/1/source/000000.m4s",
        "/media/public/1/escape/tok/1/source/000000.m4s",  # a symlink out of public/
        "/media/public/1/source/.tmp-abc",  # being written
        "/media/public/1/source/missing.m4s",
        "/media/public/1/source",  # a directory
        "/media/public/1/source/",
        "/media/public",
    ],
)
async def test_refuses_everything_but_public_files(client: Client, media: Path, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404, path
    assert b"record" not in await response.read()


async def test_no_media_route_when_a_cdn_serves_media(
    services: WebServices, media: Path
) -> None:
    config = dataclasses.replace(services.config, public_media_url="https://cdn.example.org/m")
    app = create_app(dataclasses.replace(services, config=config))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/media/public/1/master.m3u8")
        assert response.status == 404


async def raw_get(client: Client, target: str) -> bytes:
    """Send `target` byte for byte: HTTP clients normalise dot segments before sending."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


@pytest.mark.parametrize(
    "target",
    [
        "/media/public/../record/tok/1/source/000000.m4s",
        "/media/public/1/../../record/tok/1/source/000000.m4s",
        "/media/public/%2e%2e/record/tok/1/source/000000.m4s",
        "/media/public/1/..%2f..%2frecord/tok/1/source/000000.m4s",
        "/media/public/1/%2e%2e%2f%2e%2e%2frecord/tok/1/source/000000.m4s",
    ],
)
async def test_raw_traversal_attempts(client: Client, media: Path, target: str) -> None:
    answer = await raw_get(client, target)
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    assert b"the court's record" not in answer


def test_safe_relative_rejects_dot_segments() -> None:
    for bad in ("public/../record/x", "public/1/../../x", "record/x", "public//x", "public/.x",
                "public/a\\..\\b", "public"):
        assert _safe_relative(bad) is None, bad
    assert str(_safe_relative("public/1/master.m3u8")) == "public/1/master.m3u8"


async def test_large_playlists_are_gzipped_for_clients_that_take_it(
    client: Client, media: Path
) -> None:
    lines = "".join(f"#EXTINF:2.000,\n{index:06d}.m4s\n" for index in range(2000))
    text = (PLAYLIST.decode() + lines).encode()
    (media / "public/1/source/index.m3u8").write_bytes(text)
    url = "/media/public/1/source/index.m3u8"
    gzipped = await client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.headers["Vary"] == "Accept-Encoding"
    assert len(await gzipped.read()) < len(text) / 5
    assert gzip.decompress(await gzipped.read()) == text
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and await plain.read() == text
    small = await client.get("/media/public/1/master.m3u8", headers={"Accept-Encoding": "gzip"},
                             auto_decompress=False)
    assert "Content-Encoding" not in small.headers and await small.read() == PLAYLIST
