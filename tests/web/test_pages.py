"""Portal pages rendered from a real catalog."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from courtcast.catalog.service import Catalog
from courtcast.web.assets import AssetError, ensure_vendor
from courtcast.web.render import content_security_policy
from tests.web.conftest import Seed

Client = TestClient[Any, Any]
TEMPLATES = Path(__file__).resolve().parents[2] / "courtcast" / "web" / "templates"


async def page(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    text = await response.text()
    assert response.status == status, text[:500]
    assert response.content_type == "text/html"
    return text


def section(html: str, heading_id: str) -> str:
    """The HTML of the <section> labelled by `heading_id`."""
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert match, heading_id
    return match.group(1)


async def test_home_lists_live_upcoming_and_replays(client: Client, seed: Seed) -> None:
    html = await page(client, "/")
    assert '<html lang="en">' in html
    live = section(html, "live-heading")
    assert f'href="/hearings/{seed.live}"' in live and "badge-live" in live
    assert "张某诉某科技有限公司买卖合同纠纷" in live and "(2026)京0105民初100号" in live
    assert "北京市朝阳区人民法院" in live and "第一法庭" in live
    upcoming = section(html, "upcoming-heading")
    assert f'href="/hearings/{seed.scheduled}"' in upcoming
    assert "(UTC+08:00)" not in upcoming  # the schedule shows clock times under day headings
    replays = section(html, "replays-heading")
    assert f'href="/hearings/{seed.ended}"' in replays
    for hidden in (seed.private, seed.restricted):
        assert f'href="/hearings/{hidden}"' not in html
    assert 'href="/courts"' in html
    assert "Content-Security-Policy" in (await client.get("/")).headers


async def test_home_when_empty(client: Client, catalog: Catalog) -> None:
    html = await page(client, "/")
    assert "No hearing is being broadcast right now." in html


async def test_hearing_page_has_player_and_details(
    client: Client, seed: Seed, catalog: Catalog
) -> None:
    before = catalog.hearing(seed.ended).view_count
    html = await page(client, f"/hearings/{seed.ended}?t=90")
    assert catalog.hearing(seed.ended).view_count == before + 1
    assert '<script src="/static/vendor/hls.min.js"></script>' in html
    assert '<script src="/static/player.js"></script>' in html
    assert '<video id="video"' in html
    assert f'data-playback-url="/media/public/{seed.ended}/master.m3u8"' in html
    assert 'data-status="ended"' in html and 'data-start="90.0"' in html
    for text in ("张某诉某科技有限公司买卖合同纠纷", "(2026)京0105民初100号", "contract dispute",
                 "civil", "张某; 某科技有限公司", "王法官", "第一法庭", "(UTC+08:00)"):
        assert text in html, text
    assert f'<a href="/courts/{seed.court}">' in html
    assert '<label for="speed">' in html and 'id="copy-moment"' in html


async def test_scheduled_hearing_page_waits_for_the_broadcast(client: Client, seed: Seed) -> None:
    html = await page(client, f"/hearings/{seed.scheduled}")
    assert "The broadcast has not started." in html
    assert f'data-status-url="/api/v1/hearings/{seed.scheduled}"' in html
    assert re.search(r'<video id="video"[^>]*hidden', html)


@pytest.mark.parametrize("which", ["private", "restricted"])
async def test_hidden_hearing_pages_are_404(client: Client, seed: Seed, which: str) -> None:
    html = await page(client, f"/hearings/{getattr(seed, which)}", status=404)
    assert "Page not found" in html


async def test_court_pages(client: Client, seed: Seed) -> None:
    html = await page(client, f"/courts/{seed.court}")
    assert f'<a href="/courts/{seed.root_court}">最高人民法院</a>' in html  # breadcrumbs
    assert "第一法庭" in html
    assert f'href="/courts/{seed.child_court}"' in html
    for hearing in (seed.live, seed.scheduled, seed.ended):
        assert f'href="/hearings/{hearing}"' in html
    assert f'href="/hearings/{seed.private}"' not in html
    tree = await page(client, "/courts")
    assert tree.index("最高人民法院") < tree.index("北京市朝阳区人民法院") < tree.index("望京法庭")
    await page(client, "/courts/424242", status=404)


async def test_unknown_pages_are_html_404(client: Client) -> None:
    for path in ("/nowhere", "/hearings/424242", "/hearings/99999999999999999999999"):
        html = await page(client, path, status=404)
        assert "Page not found" in html and '<html lang="en">' in html


async def test_page_failures_are_an_html_500(
    client: Client, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(**_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(catalog, "live_now", explode)
    html = await page(client, "/", status=500)
    assert "Something went wrong" in html and "secret" not in html


async def test_static_assets_are_served(client: Client) -> None:
    for path, needle in (("/static/style.css", ":root"), ("/static/player.js", "courtcastPlayer"),
                         ("/static/vendor/hls.min.js", "Hls")):
        response = await client.get(path)
        assert response.status == 200, path
        assert needle in await response.text()


def test_template_strings_are_translatable() -> None:
    """Text between tags is a `_()` call, an expression or punctuation: never bare words."""
    bare = re.compile(r">\s*([^<>{}\s][^<>{}]*?)\s*<")
    allowed = re.compile(r"^[\s›·–×:()|.]*(CourtCast)?$")  # the brand is a name
    for template in TEMPLATES.glob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", template.read_text(), flags=re.S)
        for match in bare.finditer(text):
            assert allowed.match(match.group(1)), f"{template.name}: {match.group(1)!r}"


def test_ensure_vendor_copies_from_node_modules(tmp_path: Path) -> None:
    dist = tmp_path / "repo" / "node_modules" / "hls.js" / "dist"
    dist.mkdir(parents=True)
    (dist / "hls.min.js").write_text("var Hls = 1;")
    target = ensure_vendor(tmp_path / "repo", tmp_path / "vendor")
    assert target.read_text() == "var Hls = 1;"
    (dist / "hls.min.js").write_text("var Hls = 2;")  # an updated lockfile's build
    assert ensure_vendor(tmp_path / "repo", tmp_path / "vendor").read_text() == "var Hls = 2;"


def test_ensure_vendor_explains_a_missing_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "package-lock.json").write_text("{}")
    monkeypatch.setattr("shutil.which", lambda _name: None)
    with pytest.raises(AssetError, match="npm is not installed"):
        ensure_vendor(tmp_path, tmp_path / "vendor")


def test_content_security_policy_admits_the_media_origin() -> None:
    local = content_security_policy("/media/public/0/master.m3u8")
    assert "script-src 'self';" in local and "cdn" not in local
    cdn = content_security_policy("https://cdn.example.org/courtcast/public/0/master.m3u8")
    assert "media-src 'self' blob: https://cdn.example.org;" in cdn
    assert "connect-src 'self' https://cdn.example.org;" in cdn
