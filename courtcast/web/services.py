"""What the web tier needs from the rest of CourtCast, injected by whoever builds the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.storage.base import Storage


class BroadcastControl(Protocol):
    """The live pipeline as the API drives it (implemented next to ingest/transcoding)."""

    async def end_hearing(self, hearing_id: int) -> None:
        """Finalise the public playlists (EXT-X-ENDLIST) and mark the hearing ended."""
        ...

    def rtmp_url(self, stream_key: str, request_host: str) -> str:
        """The RTMP ingest address for `stream_key`: rtmp://HOST:PORT/live/KEY.

        `request_host` is the host name the API client used, without port or IPv6 brackets.
        """
        ...

    async def cut(self, hearing_id: int) -> None:
        """Stop public publishing at once: nothing inside the delay window ever becomes
        public; the record goes on; the hearing becomes `interrupted`."""
        ...

    async def resume(self, hearing_id: int) -> None:
        """Publish again after a cut (after a discontinuity); the hearing is `live` again."""
        ...

    async def withdraw(self, hearing_id: int) -> None:
        """Remove the public replay from public storage and stop a live broadcast (the record
        stays); the catalog's status change and reason are the caller's, made before."""
        ...

    async def restore(self, hearing_id: int) -> None:
        """Put back the public replay (what the public was allowed to see) after a withdrawal;
        call after the catalog's restore."""
        ...


@dataclass
class WebServices:
    config: Config
    catalog: Catalog
    storage: Storage
    broadcasts: BroadcastControl
