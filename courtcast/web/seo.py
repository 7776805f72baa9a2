"""What search engines see: /robots.txt and /sitemap.xml.

The sitemap lists the home page, the courts and every publicly visible hearing that is not
marked `noindex` (whose page also says `noindex`). Staff pages, the record and the API are
disallowed in robots.txt; that is a courtesy to crawlers, not protection (sign-in is).
"""

from __future__ import annotations

import asyncio
from xml.sax.saxutils import escape

from aiohttp import web

from courtcast.web.context import origin, services
from courtcast.web.wire import iso

DISALLOWED = ("/api/", "/clerk", "/admin", "/account", "/login", "/record/")
SITEMAP_LIMIT = 50_000  # the sitemap protocol's limit per file
CACHE = "public, max-age=3600"


async def robots(request: web.Request) -> web.Response:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED),
             f"Sitemap: {origin(request)}/sitemap.xml", ""]
    return web.Response(text="\n".join(lines), headers={"Cache-Control": CACHE})


def _url(location: str, modified: str | None = None) -> str:
    lastmod = f"<lastmod>{escape(modified)}</lastmod>" if modified else ""
    return f"<url><loc>{escape(location)}</loc>{lastmod}</url>"


async def sitemap(request: web.Request) -> web.Response:
    catalog = services(request).catalog
    courts = await asyncio.to_thread(catalog.courts)
    hearings = await asyncio.to_thread(catalog.indexable_hearings, SITEMAP_LIMIT - len(courts) - 2)
    base = origin(request)
    urls = [_url(f"{base}/"), _url(f"{base}/courts")]
    urls += [_url(f"{base}/courts/{court.id}") for court in courts]
    urls += [_url(f"{base}/hearings/{hid}", iso(changed)) for hid, changed in hearings]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(urls)
        + "\n</urlset>\n"
    )
    return web.Response(text=body, content_type="application/xml", headers={"Cache-Control": CACHE})


def setup(app: web.Application) -> None:
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/sitemap.xml", sitemap)
