"""Playback from a private bucket: playlists through the portal, media by presigned URL.

HLS names segments by URIs relative to the playlist, so a presigned master alone does not work:
every URI a player follows needs its own signature. The portal therefore serves the (small)
playlists itself, each media URI rewritten to an absolute presigned S3 URL, and the (large)
segments go from S3 straight to the viewer. Nested playlist URIs stay relative, so they come
back to the portal and get the same treatment.

A presigned URL is reused while at least half of its lifetime remains, so a playlist hands out
URLs valid for at least `seconds / 2`, and each segment is signed about twice per lifetime
rather than once per viewer. A fetched playlist is rewritten at most once a second per process
(concurrent requests share one fetch), whatever the number of viewers.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from courtcast.storage.scheduler import is_playlist

URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
PLAYLIST_TTL = 1.0  # seconds a rewritten playlist is reused: a live playlist changes each segment
PUBLIC = "public/"
MAX_SIGNED = 200_000  # presigned URLs remembered (about 100 bytes of key + 400 of URL each)


class UrlSigner:
    def __init__(self, presign: Callable[[str, int], str], seconds: int,
                 clock: Callable[[], float] = time.monotonic, *,
                 signable: str = PUBLIC) -> None:
        self.presign = presign
        self.seconds = seconds
        self.clock = clock
        self.signable = signable  # a signature grants a read: only ever for the public view
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # playlists are rewritten in worker threads

    def url(self, key: str) -> str:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[1] - now >= self.seconds / 2:
                self._cache.move_to_end(key)
                return cached[0]
        url = self.presign(key, self.seconds)  # ~0.3 ms of HMAC: outside the lock
        with self._lock:
            self._cache[key] = (url, now + self.seconds)
            self._cache.move_to_end(key)
            if len(self._cache) > MAX_SIGNED:
                self._cache.popitem(last=False)
        return url

    def rewrite(self, playlist_key: str, text: str) -> str:
        """Media URIs (segment lines, URI="..." attributes) become presigned URLs."""
        base = posixpath.dirname(playlist_key)
        lines: list[str] = []
        for line in text.splitlines():
            if line and not line.startswith("#"):
                line = self._uri(base, line.strip())
            elif 'URI="' in line:
                line = URI_ATTRIBUTE.sub(lambda m: f'URI="{self._uri(base, m[1])}"', line)
            lines.append(line)
        return "\n".join(lines) + "\n"

    def _uri(self, base: str, uri: str) -> str:
        if "://" in uri or uri.startswith("/") or is_playlist(uri.split("?", 1)[0]):
            return uri  # absolute already, or a playlist the portal serves too
        key = posixpath.normpath(posixpath.join(base, uri))
        if not key.startswith(self.signable):
            return uri
        return self.url(key)


class SignedPlaylists:
    """Rewritten playlists with a one-second micro-cache and one fetch per key at a time."""

    def __init__(self, signer: UrlSigner, fetch: Callable[[str], Awaitable[bytes]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.signer = signer
        self.fetch = fetch
        self.clock = clock
        self._fresh: dict[str, tuple[bytes, float]] = {}
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    async def get(self, key: str) -> bytes:
        cached = self._fresh.get(key)
        if cached is not None and self.clock() - cached[1] < PLAYLIST_TTL:
            return cached[0]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)

    async def _load(self, key: str) -> bytes:
        text = (await self.fetch(key)).decode()
        # Signing a long replay's first time takes a while: keep it off the event loop.
        body = (await asyncio.to_thread(self.signer.rewrite, key, text)).encode()
        now = self.clock()
        if len(self._fresh) > 10_000:  # drop what has gone stale (hearings no longer watched)
            self._fresh = {k: v for k, v in self._fresh.items() if now - v[1] < PLAYLIST_TTL}
        self._fresh[key] = (body, now)
        return body
