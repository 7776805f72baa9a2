"""S3-compatible storage (AWS S3, MinIO, Ceph RGW, OSS, COS) behind a crash-safe local spool.

Writes (`put`, `copy`, `delete_prefix`) go to the spool's journal first and return once they are
durable on local disk; the `Uploader` performs them in storage in an order that never lets a
viewer see a playlist naming an object that is not there yet, retrying with backoff while the
endpoint is slow or down and resuming after a restart. Reads see spooled writes. Viewers fetch
media from the bucket, a CDN in front of it, or presigned URLs - never through this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from courtcast.storage.base import ObjectMeta, ObjectNotFound, Storage
from courtcast.storage.local import safe_key
from courtcast.storage.s3client import S3Client
from courtcast.storage.scheduler import Op, is_playlist
from courtcast.storage.signing import SignedPlaylists, UrlSigner
from courtcast.storage.spool import Spool
from courtcast.storage.uploader import Backoff, Uploader

log = logging.getLogger("courtcast.storage.s3")

T = TypeVar("T")
PORTAL_MEDIA = "/media"  # where the portal serves playlists in signed mode (web/media.py)
DELETE_WAIT_SECONDS = 5.0  # how long delete_prefix waits for storage before leaving it spooled


class S3Storage(Storage):
    def __init__(
        self,
        client: S3Client,
        spool_dir: Path,
        *,
        public_media_url: str | None = None,
        signed_url_seconds: int = 0,
        concurrency: int = 8,
        spool_limit: int = 10 * 1024**3,
        backoff: Backoff | None = None,
        close_grace: float = 10.0,
        delete_wait: float = DELETE_WAIT_SECONDS,
    ) -> None:
        self.client = client
        self.public_base_url = public_media_url.rstrip("/") if public_media_url else None
        self.close_grace = close_grace
        self.delete_wait = delete_wait
        self.uploader = Uploader(client, Spool(spool_dir), concurrency=concurrency,
                                 spool_limit=spool_limit, backoff=backoff)
        self.signer = UrlSigner(client.presign, signed_url_seconds) if signed_url_seconds else None
        # Viewers get the playlist as stored, never a spooled version: that one may name
        # segments still waiting in the spool.
        self._playlists = SignedPlaylists(self.signer, self._stored) if self.signer else None

    # -- writes: spooled, then performed in order ----------------------------------------

    async def start(self) -> None:
        await self.uploader.start()

    async def put(self, key: str, data: bytes, meta: ObjectMeta) -> None:
        """Returns once `data` is durable in the spool; viewers see it once uploaded."""
        safe_key(key)
        await self.uploader.submit(Op.PUT, key, body=data, meta=meta)

    async def copy(self, source: str, target: str, meta: ObjectMeta) -> None:
        """Server-side CopyObject, performed after `source` itself is stored."""
        safe_key(source)
        safe_key(target)
        if (self.uploader.scheduler.latest(source) is None
                and self.uploader.scheduler.covering_delete(source)):
            raise ObjectNotFound(source)
        await self.uploader.submit(Op.COPY, target, meta=meta, source=source)

    async def delete_prefix(self, prefix: str) -> int:
        """Spooled writes under `prefix` are dropped; stored objects deleted (now, or when
        storage is reachable again: the delete is journalled like any write).

        Returns the number of distinct keys known deleted: with storage unreachable, only
        the spooled ones.
        """
        await self.start()
        dropped = await self.uploader.drop_prefix(prefix)
        seq = await self.uploader.submit(Op.DELETE, prefix, keep_result=True)
        stored = await self.uploader.wait(seq, self.delete_wait)
        if stored is None:
            log.warning("deleting %s: storage unreachable, the delete stays spooled and "
                        "completes when it returns", prefix)
        return len({op.key for op in dropped} | set(stored or ()))

    # -- reads: the spool first ----------------------------------------------------------

    async def get(self, key: str) -> bytes:
        await self.start()
        scheduler = self.uploader.scheduler
        if scheduler.covering_delete(key):
            raise ObjectNotFound(key)
        pending = scheduler.latest(key)
        if pending is not None and pending.op is Op.PUT:
            body = await self.uploader.spooled_body(pending)
            if body is not None:
                return body
        elif pending is not None and pending.op is Op.COPY:
            return await self.get(pending.source)
        return await self._read(self.client.get, key)

    async def list_keys(self, prefix: str) -> list[str]:
        await self.start()
        stored = await self._read(self.client.list_keys, prefix)
        scheduler = self.uploader.scheduler
        keys = {key for key in stored if not scheduler.covering_delete(key)}
        keys.update(scheduler.keys_under(prefix))
        return sorted(keys)

    async def _stored(self, key: str) -> bytes:
        return await self._read(self.client.get, key)

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    # -- viewers -------------------------------------------------------------------------

    def public_url(self, key: str) -> str:
        safe_key(key)
        if self.signer is not None:
            return f"{PORTAL_MEDIA}/{key}" if is_playlist(key) else self.signer.url(key)
        if self.public_base_url is not None:
            return f"{self.public_base_url}/{key}"
        return self.client.object_url(key)

    @property
    def portal_serves_playlists(self) -> bool:
        return self._playlists is not None

    async def viewer_playlist(self, key: str) -> bytes:
        if self._playlists is None:
            return await self._stored(key)
        return await self._playlists.get(key)

    # -- state ---------------------------------------------------------------------------

    @property
    def backlog_full(self) -> bool:
        return self.uploader.alarm.over

    async def drained(self, timeout: float | None = None) -> None:
        """Wait until every spooled operation is done in storage."""
        async with asyncio.timeout(timeout):
            await self.uploader.drained()

    async def close(self) -> None:
        await self.uploader.close(self.close_grace)
