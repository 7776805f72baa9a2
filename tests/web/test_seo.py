"""What search engines see: robots.txt, sitemap.xml and noindex hearings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient

from courtcast.catalog.service import Catalog
from tests.web.conftest import Seed

Client = TestClient[Any, Any]
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def noindex_hearing(catalog: Catalog, seed: Seed) -> int:
    """An approved public hearing the court keeps out of search engines."""
    start = datetime.now(UTC) + timedelta(days=1)
    hearing = catalog.create_hearing(
        case_id=seed.case, courtroom_id=seed.courtroom, scheduled_start=start,
        scheduled_end=start + timedelta(hours=1), noindex=True)
    catalog.approve_hearing(hearing.id or 0, account_id=catalog.builtin_admin().id or 0)
    return hearing.id or 0


async def test_robots_txt(client: Client) -> None:
    response = await client.get("/robots.txt")
    text = await response.text()
    assert response.status == 200 and text.startswith("User-agent: *\n")
    for path in ("/api/", "/clerk", "/admin", "/record/", "/login"):
        assert f"Disallow: {path}\n" in text
    assert f"Sitemap: {client.make_url('/sitemap.xml')}" in text


async def test_sitemap_lists_public_indexable_pages(
    client: Client, catalog: Catalog, seed: Seed
) -> None:
    noindex_hearing(catalog, seed)
    response = await client.get("/sitemap.xml")
    assert response.status == 200 and response.content_type == "application/xml"
    tree = ElementTree.fromstring(await response.read())
    locations = [loc.text or "" for loc in tree.findall("s:url/s:loc", NS)]
    hearings = {int(loc.rsplit("/", 1)[1]) for loc in locations if "/hearings/" in loc}
    assert hearings == {seed.live, seed.scheduled, seed.ended}
    assert f"{client.make_url('/courts/')}{seed.court}" in locations


async def test_noindex_hearing_page(client: Client, catalog: Catalog, seed: Seed) -> None:
    plain = await client.get(f"/hearings/{seed.live}")
    assert 'name="robots"' not in await plain.text() and "X-Robots-Tag" not in plain.headers
    response = await client.get(f"/hearings/{noindex_hearing(catalog, seed)}")
    assert '<meta name="robots" content="noindex">' in await response.text()
    assert response.headers["X-Robots-Tag"] == "noindex"
