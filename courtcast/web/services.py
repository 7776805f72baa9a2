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


@dataclass
class WebServices:
    config: Config
    catalog: Catalog
    storage: Storage
    broadcasts: BroadcastControl
