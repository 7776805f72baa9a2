"""Jinja2 rendering for portal pages (aiohttp_jinja2 is not a dependency; this is all it took).

Every user-visible string in a template goes through `_()`; null translations stand in until
catalogs of translations exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from aiohttp import web

from courtcast.web.wire import as_utc, iso

TEMPLATES = Path(__file__).with_name("templates")
LANG = "en"
JINJA = web.AppKey("courtcast_jinja", jinja2.Environment)
CSP = web.AppKey("courtcast_csp", str)


def _display_zone() -> tzinfo:
    # Courts carry no time zone yet; the platform's courts are all on China Standard Time.
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tzdata on this host: UTC, with the offset still shown
        return UTC


DISPLAY_ZONE = _display_zone()


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Court-local wall time with its UTC offset visible, e.g. '2026-11-21 18:00 (UTC+08:00)'."""
    if value is None:
        return ""
    local = as_utc(value).astimezone(DISPLAY_ZONE)
    offset = local.strftime("%z")
    return f"{local.strftime(fmt)} (UTC{offset[:3]}:{offset[3:]})"


def local_clock(value: datetime) -> str:
    return as_utc(value).astimezone(DISPLAY_ZONE).strftime("%H:%M")


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly in tests
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = local_time
    env.filters["clock"] = local_clock
    env.filters["iso"] = iso
    env.globals["lang"] = LANG
    return env


def content_security_policy(media_url: str) -> str:
    """Only our own scripts and styles; media (and hls.js's fetches) also from the media origin.

    `media_url` is any public media URL; when it is absolute (CDN, bucket) its origin is allowed.
    """
    parsed = urlparse(media_url)
    media = f" {parsed.scheme}://{parsed.netloc}" if parsed.scheme in ("http", "https") else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{media}; media-src 'self' blob:{media}; "
        f"connect-src 'self'{media}; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'"
    )


def render(request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
    html = request.app[JINJA].get_template(name).render(request=request, **context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = request.app[CSP]
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response
