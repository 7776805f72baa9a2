"""The storage interface every backend implements.

Keys are '/'-separated relative paths such as `public/42/v0/000012.m4s`. Callers write a
segment before any playlist that names it; backends keep that order visible to viewers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


class StorageError(Exception):
    """The backend could not complete an operation (after its own retries)."""


class ObjectNotFound(StorageError):
    pass


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    content_type: str
    cache_control: str


# Cache policies a CDN in front of storage relies on.
IMMUTABLE = "public, max-age=31536000, immutable"
LIVE_PLAYLIST = "public, max-age=1"
FINAL_PLAYLIST = "public, max-age=86400"
PRIVATE = "private, no-store"


class Storage(ABC):
    @abstractmethod
    async def put(self, key: str, data: bytes, meta: ObjectMeta) -> None:
        """Store `data` at `key`; durable once this returns. Viewers can read it then, or,
        with a backend that spools (S3), as soon as it is uploaded, never before the objects
        written before it that a playlist may name."""

    @abstractmethod
    async def copy(self, source: str, target: str, meta: ObjectMeta) -> None:
        """Copy an object within the storage (server-side where the backend can)."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """Return the object's bytes or raise `ObjectNotFound`."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; return how many were deleted."""

    @abstractmethod
    async def list_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""

    @abstractmethod
    def public_url(self, key: str) -> str:
        """The URL a viewer fetches `key` from (absolute, or relative to the portal)."""

    async def start(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Begin background work (e.g. resume uploads spooled before a restart)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Finish pending work and release resources."""

    @property
    def portal_serves_playlists(self) -> bool:
        """Whether viewers fetch playlists from the portal (`viewer_playlist`), not storage."""
        return False

    async def viewer_playlist(self, key: str) -> bytes:
        """A public playlist as the portal serves it to viewers."""
        return await self.get(key)

    @property
    def backlog_full(self) -> bool:
        """Writes wait locally beyond the configured limit (storage not keeping up)."""
        return False
