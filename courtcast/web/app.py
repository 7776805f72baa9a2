"""The aiohttp application: portal pages, JSON API, static assets and (embedded) media."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from courtcast.storage.base import StorageError
from courtcast.web import (
    admin,
    api,
    api_accounts,
    clerk,
    errors,
    media,
    pages,
    proxy,
    record,
    seo,
    staff,
    whip,
)
from courtcast.web.assets import AssetError, ensure_vendor
from courtcast.web.context import SERVICES, poster_url, previews_url
from courtcast.web.render import CSP, JINJA, content_security_policy, make_env
from courtcast.web.services import WebServices

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().with_name("static")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _media_origin_sample(services: WebServices) -> str:
    # A segment, not a playlist: with a private bucket playlists come from the portal itself
    # while segments come from the bucket, whose origin the CSP must allow.
    try:
        return services.storage.public_url("public/0/source/000000.m4s")
    except StorageError:
        return ""


def create_app(services: WebServices) -> web.Application:
    """Build the web application; the caller runs it (and owns the services' lifetimes)."""
    try:
        ensure_vendor()
    except AssetError as exc:
        # The portal still works; browsers without native HLS then cannot play.
        log.error("hls.js is not available: %s", exc)
    middlewares: list[Middleware] = [errors.middleware]
    if services.config.trusted_proxies:  # first: everything after sees the client, not the proxy
        middlewares.insert(0, proxy.middleware(services.config.trusted_proxies))
    app = web.Application(middlewares=middlewares)
    app[SERVICES] = services
    app[JINJA] = make_env()
    app[JINJA].globals["poster_url"] = partial(poster_url, services)
    app[JINJA].globals["previews_url"] = partial(previews_url, services)
    app[CSP] = content_security_policy(_media_origin_sample(services))
    app.router.add_get("/healthz", healthz)
    api.setup(app)
    api_accounts.setup(app)
    pages.setup(app)
    for module in (staff, clerk, admin, record, seo):  # issue 4: staff pages, record, SEO
        module.setup(app)
    whip.setup(app)  # issue 6: WHIP ingest, WHEP monitor, publish/monitor pages
    media_dir = services.config.media_dir
    if media_dir is not None and services.config.public_media_url is None:
        media.setup(app, media_dir)
    elif services.storage.portal_serves_playlists:
        media.setup_signed_playlists(app, services.storage)
    app.router.add_static("/static/", STATIC_DIR)
    return app
