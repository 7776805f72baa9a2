"""record_url: the court's complete record, signed and expiring, fetchable without headers."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest
from aiohttp.test_utils import TestClient

from courtcast.catalog.service import Catalog
from courtcast.config import Config
from tests.web.conftest import Seed, Staff

Client = TestClient[Any, Any]
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nsource/index.m3u8\n"
PLAYLIST = "#EXTM3U\n#EXT-X-MAP:URI=\"init0.mp4\"\n#EXTINF:2.0,\n000000.m4s\n"


@pytest.fixture
def record(config: Config, catalog: Catalog, seed: Seed) -> str:
    """The live hearing's record in local storage; returns its storage prefix."""
    assert config.media_dir is not None
    token = catalog.hearing(seed.live).record_token
    root = config.media_dir / "record" / f"{seed.live}-{token}" / "source"
    root.mkdir(parents=True)
    (root.parent / "master.m3u8").write_text(MASTER)
    (root / "index.m3u8").write_text(PLAYLIST)
    (root / "init0.mp4").write_bytes(b"init")
    (root / "000000.m4s").write_bytes(b"segment")
    return f"record/{seed.live}-{token}"


async def record_url(client: Client, staff: Staff, hearing_id: int) -> str:
    response = await client.get(f"/api/v1/hearings/{hearing_id}",
                                headers={"Authorization": f"Bearer {staff.tokens['clerk']}"})
    url: str = (await response.json())["record_url"]
    return url


async def test_record_url_and_its_relative_uris_need_no_headers(
    client: Client, seed: Seed, staff: Staff, record: str
) -> None:
    url = await record_url(client, staff, seed.live)
    parsed = urlparse(url)
    assert parsed.scheme == "http" and parsed.path.endswith("/master.m3u8")
    master = await client.get(parsed.path)  # no Authorization, no cookie
    assert master.status == 200 and await master.text() == MASTER
    assert master.headers["Cache-Control"] == "private, no-store"
    assert master.content_type == "application/vnd.apple.mpegurl"
    media_url = urljoin(url, "source/index.m3u8")  # as a player resolves the variant
    playlist = await client.get(urlparse(media_url).path)
    assert playlist.status == 200 and await playlist.text() == PLAYLIST
    for name, body in (("init0.mp4", b"init"), ("000000.m4s", b"segment")):
        segment = await client.get(urlparse(urljoin(media_url, name)).path)
        assert segment.status == 200 and await segment.read() == body
    expiry = int(parsed.path.split("/")[3].split(".")[0])
    assert 6 * 3600 <= expiry - time.time() <= 7 * 3600
    assert record not in url  # the record token never shows


@pytest.mark.parametrize("tamper", ["signature", "hearing", "expired", "traversal", "hidden"])
async def test_record_refuses_without_a_valid_signature(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff, record: str, tamper: str
) -> None:
    url = urlparse(await record_url(client, staff, seed.live)).path
    _, _, hearing, signed, *_rest = url.split("/")
    expiry, signature = signed.split(".")
    path = "source/index.m3u8"
    if tamper == "signature":
        signed = f"{expiry}.{'0' * len(signature)}"
    elif tamper == "hearing":
        hearing = str(seed.ended)
    elif tamper == "expired":
        signed = f"{int(time.time()) - 10}.{signature}"
    elif tamper == "traversal":
        path = "source/../../../catalog.db"
    else:
        path = "source/.tmp-partial"
    response = await client.get(f"/record/{hearing}/{signed}/{path}")
    assert response.status == 404
    assert "html" not in response.content_type


async def test_anonymous_and_other_courts_get_no_record_url(
    client: Client, seed: Seed, staff: Staff
) -> None:
    public = await (await client.get(f"/api/v1/hearings/{seed.live}")).json()
    assert "record_url" not in public
    other = await (await client.get(
        f"/api/v1/hearings/{seed.live}",
        headers={"Authorization": f"Bearer {staff.tokens['other_clerk']}"})).json()
    assert "record_url" not in other
