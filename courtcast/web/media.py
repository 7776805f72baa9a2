"""Serving local (file://) storage's public media when no CDN or bucket URL is configured,
and, for a private S3 bucket, the public playlists with presigned media URIs.

Files go out with aiohttp's FileResponse (sendfile, Range support). Only `public/` is exposed:
the court's complete record (`record/`) and in-flight temporary files never are.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath

from aiohttp import web

from courtcast.storage.base import IMMUTABLE, LIVE_PLAYLIST, ObjectNotFound, Storage, StorageError

MEDIA_ROOT = web.AppKey("courtcast_media_root", Path)
PLAYLIST_STORAGE = web.AppKey("courtcast_playlist_storage", Storage)
# Presigned URLs inside go stale: never cached by a shared cache, briefly by the player.
SIGNED_PLAYLIST_CACHE = "private, max-age=1"
COMPRESS_PLAYLISTS_FROM = 4096  # bytes; smaller ones fit a packet or two anyway

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/mp4",
    ".ts": "video/mp2t",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".json": "application/json",
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges",
}


def _cache_control(suffix: str) -> str:
    # Playlists change while live (a CDN may hold them a second); segment names never repeat.
    return LIVE_PLAYLIST if suffix == ".m3u8" else IMMUTABLE


def _safe_relative(path: str) -> PurePosixPath | None:
    """`public/...` with no empty, dot, dot-dot or hidden parts; None when not servable."""
    parts = path.split("/")
    if parts[0] != "public" or len(parts) < 2 or "\\" in path or "\x00" in path:
        return None
    if any(not part or part.startswith(".") for part in parts):
        return None  # '..' climbs out; '.tmp-*' are files being written
    return PurePosixPath(*parts)


def _locate(public_root: Path, relative: PurePosixPath) -> Path | None:
    candidate = public_root.parent.joinpath(*relative.parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    # A symlink must not lead out of public/ either.
    if not resolved.is_relative_to(public_root.resolve()) or not resolved.is_file():
        return None
    return resolved


async def serve_media(request: web.Request) -> web.StreamResponse:
    relative = _safe_relative(request.match_info["path"])
    if relative is None:
        raise web.HTTPNotFound(headers=CORS)
    root: Path = request.app[MEDIA_ROOT]
    path = await asyncio.to_thread(_locate, root / "public", relative)
    if path is None:
        raise web.HTTPNotFound(headers=CORS)
    suffix = relative.suffix.lower()
    headers = {
        **CORS,
        "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        "Cache-Control": _cache_control(suffix),
    }
    if suffix == ".m3u8":
        return _playlist_response(await asyncio.to_thread(path.read_bytes), headers)
    return web.FileResponse(path, headers=headers)


def _playlist_response(body: bytes, headers: dict[str, str]) -> web.Response:
    """A playlist, gzipped for clients that take it: a live playlist keeps every segment (180
    KiB at four hours) and every viewer fetches it every segment; it shrinks about tenfold."""
    response = web.Response(body=body, headers={**headers, "Vary": "Accept-Encoding"})
    if len(body) >= COMPRESS_PLAYLISTS_FROM:
        response.enable_compression()
    return response


async def media_preflight(request: web.Request) -> web.Response:
    # hls.js may send Range requests, which some browsers preflight.
    headers = {
        **CORS,
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "Range",
        "Access-Control-Max-Age": "86400",
    }
    return web.Response(status=204, headers=headers)


async def serve_signed_playlist(request: web.Request) -> web.Response:
    """Private bucket: a public playlist with its media URIs presigned (storage/signing.py)."""
    relative = _safe_relative(request.match_info["path"])
    if relative is None or relative.suffix.lower() != ".m3u8":
        raise web.HTTPNotFound(headers=CORS)
    try:
        body = await request.app[PLAYLIST_STORAGE].viewer_playlist(str(relative))
    except ObjectNotFound:
        raise web.HTTPNotFound(headers=CORS) from None
    except StorageError:
        raise web.HTTPServiceUnavailable(headers={**CORS, "Retry-After": "2"}) from None
    headers = {**CORS, "Content-Type": CONTENT_TYPES[".m3u8"],
               "Cache-Control": SIGNED_PLAYLIST_CACHE}
    return _playlist_response(body, headers)


def setup_signed_playlists(app: web.Application, storage: Storage) -> None:
    """Playlists from the portal, segments straight from the bucket by presigned URL."""
    app[PLAYLIST_STORAGE] = storage
    app.router.add_get("/media/{path:.+}", serve_signed_playlist)
    app.router.add_route("OPTIONS", "/media/{path:.+}", media_preflight)


def setup(app: web.Application, media_dir: Path) -> None:
    app[MEDIA_ROOT] = media_dir
    app.router.add_get("/media/{path:.+}", serve_media)
    app.router.add_route("OPTIONS", "/media/{path:.+}", media_preflight)
