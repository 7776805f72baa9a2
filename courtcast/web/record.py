"""Signed, expiring URLs for the court's complete record, fetchable without any header.

`record_url` is `/record/{hearing_id}/{expiry}.{signature}/master.m3u8` (the record's master
playlist, as `playback_url` is the public one's): players and ffprobe resolve the playlists'
relative URIs against it, so variant playlists and segments inherit the signed prefix. The
signature is an HMAC-SHA256 of hearing id and expiry with a secret kept in the catalog (shared
by every process). The route serves `record/{id}-{record_token}/{path}` from
storage and nothing without a valid, unexpired signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass

from aiohttp import web

from courtcast.broadcast.layout import MASTER
from courtcast.catalog.service import NotFound
from courtcast.storage.base import ObjectNotFound, StorageError
from courtcast.web.context import origin, services
from courtcast.web.media import CONTENT_TYPES

RECORD_PLAYLIST = MASTER  # record/{id}-{token}/master.m3u8, see courtcast.broadcast.layout
LIFETIME_SECONDS = 6 * 3600  # a clerk's shift of monitoring; the page hands out fresh URLs
_ROUND_SECONDS = 3600  # expiries on the hour: one URL per hour, which caches and compares well
SECRET_NAME = "record_url"


@dataclass
class _SecretHolder:
    value: bytes | None = None


SECRET = web.AppKey("courtcast_record_secret", _SecretHolder)


async def _secret(request: web.Request) -> bytes:
    holder = request.app[SECRET]
    if holder.value is None:
        holder.value = await asyncio.to_thread(services(request).catalog.server_secret, SECRET_NAME)
    return holder.value


def signature(secret: bytes, hearing_id: int, expiry: int) -> str:
    message = f"record:{hearing_id}:{expiry}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


async def record_url(request: web.Request, hearing_id: int, *, now: float | None = None) -> str:
    """An absolute URL of the hearing's record playlist, valid for at least LIFETIME_SECONDS."""
    moment = int(now if now is not None else time.time())
    expiry = (moment + LIFETIME_SECONDS) // _ROUND_SECONDS * _ROUND_SECONDS + _ROUND_SECONDS
    signed = signature(await _secret(request), hearing_id, expiry)
    return f"{origin(request)}/record/{hearing_id}/{expiry}.{signed}/{RECORD_PLAYLIST}"


def _safe_path(path: str) -> bool:
    parts = path.split("/")
    return "\\" not in path and "\x00" not in path and all(
        part and not part.startswith(".") for part in parts
    )


async def _verified(request: web.Request) -> int:
    """The hearing id of a request whose signature and expiry are right; else 404."""
    hearing_id = int(request.match_info["id"])
    expiry_text, _, given = request.match_info["signed"].partition(".")
    if not expiry_text.isdigit() or int(expiry_text) < time.time():
        raise web.HTTPNotFound()
    expected = signature(await _secret(request), hearing_id, int(expiry_text))
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPNotFound()
    return hearing_id


async def serve_record(request: web.Request) -> web.Response:
    hearing_id = await _verified(request)
    path = request.match_info["path"]
    if not _safe_path(path):
        raise web.HTTPNotFound()
    svc = services(request)
    try:
        hearing = await asyncio.to_thread(svc.catalog.hearing, hearing_id)
        data = await svc.storage.get(f"record/{hearing_id}-{hearing.record_token}/{path}")
    except (NotFound, ObjectNotFound):
        raise web.HTTPNotFound() from None
    except StorageError:
        raise web.HTTPServiceUnavailable() from None
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    headers = {
        "Cache-Control": "private, no-store",  # the record is not the public's: no CDN copy
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
    }
    content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    return web.Response(body=data, content_type=content_type.split(";")[0], headers=headers)


def setup(app: web.Application) -> None:
    app[SECRET] = _SecretHolder()
    app.router.add_get(r"/record/{id:\d{1,18}}/{signed:[0-9]+\.[0-9a-f]+}/{path:.+}", serve_record)
