"""What the web tier needs from the rest of CourtCast, injected by whoever builds the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.storage.base import Storage

if TYPE_CHECKING:  # aiortc loads only where WebRTC is used
    from courtcast.ingest.whip.gateway import WebRtcGateway


class BroadcastControl(Protocol):
    """The live pipeline as the API and the clerk pages drive it (`courtcast.broadcast`).

    The web checks the actor's rights and the hearing's status first, and records the action in
    the audit log after the call returns. For `cut`, `resume` and `end_hearing` the pipeline sets
    the catalog status; for `withdraw` and `restore` the web has already changed the catalog
    (so the portal and API hide or show the hearing at once) and the pipeline does storage.
    """

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
    webrtc: WebRtcGateway | None = None  # WHIP ingest and WHEP monitors (None: off)
