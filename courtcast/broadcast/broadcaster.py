"""The broadcaster: admits publishers by stream key and runs each live hearing's broadcast."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from courtcast import metrics
from courtcast.broadcast.hearing import HearingBroadcast
from courtcast.catalog.models import Case, Hearing, HearingStatus, utcnow
from courtcast.catalog.service import Catalog, NotFound
from courtcast.config import Config
from courtcast.ingest.publish import MediaSink, PublishRefused, PublishRequest
from courtcast.storage.base import Storage

log = logging.getLogger("courtcast.broadcast")


@dataclass(frozen=True, slots=True)
class PublishWindow:
    """When a stream key is valid, relative to the hearing's scheduled window."""

    early: timedelta = timedelta(minutes=30)  # courtrooms connect and test before the start
    late: timedelta = timedelta(hours=2)  # hearings overrun their scheduled end

    def admits(self, hearing: Hearing, now: datetime) -> bool:
        return hearing.scheduled_start - self.early <= now <= hearing.scheduled_end + self.late


def redact(stream_key: str) -> str:
    return f"{stream_key[:4]}…" if stream_key else "(empty)"


class Broadcaster:
    """Implements `PublishAuthorizer` for every ingest server and the web's `BroadcastControl`."""

    def __init__(
        self,
        config: Config,
        catalog: Catalog,
        storage: Storage,
        *,
        window: PublishWindow | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.storage = storage
        self.window = window or PublishWindow()
        self.rtmp_port = config.rtmp.port  # replaced by the bound port once RTMP listens
        self._broadcasts: dict[int, HearingBroadcast] = {}
        self._lock = asyncio.Lock()
        self._janitor: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._janitor = asyncio.create_task(self._end_overdue_hearings(), name="janitor")

    # -- PublishAuthorizer ---------------------------------------------------------------

    async def begin_publish(self, request: PublishRequest) -> MediaSink:
        try:
            hearing, case = await self._admissible(request)
            async with self._lock:
                broadcast = await self._broadcast_for(hearing)
                sink = broadcast.attach(request)
        except PublishRefused as refusal:
            metrics.PUBLISH_REFUSED.labels(request.protocol, refusal.code).inc()
            log.warning("refused %s publisher %s with key %s: %s", request.protocol,
                        request.remote, redact(request.stream_key), refusal.message)
            raise
        log.info("%s publisher %s started hearing %s (%s)", request.protocol, request.remote,
                 hearing.id, case.case_number)
        return sink

    async def _admissible(self, request: PublishRequest) -> tuple[Hearing, Case]:
        if request.protocol == "rtmp" and request.app != "live":
            raise PublishRefused("bad_app", f"unknown application {request.app!r}, use /live/KEY")
        hearing = await asyncio.to_thread(self.catalog.hearing_by_stream_key, request.stream_key)
        if hearing is None or hearing.id is None:
            raise PublishRefused("unknown_key", "unknown stream key")
        view = await asyncio.to_thread(self.catalog.hearing_view, hearing.id)
        if view.case.restriction:
            raise PublishRefused(
                "restricted", f"case {view.case.case_number} may not be broadcast "
                f"({view.case.restriction})")
        if hearing.status in (HearingStatus.ENDED, HearingStatus.WITHDRAWN):
            raise PublishRefused("ended", f"hearing {hearing.id} has ended; the key has expired")
        if not self.window.admits(hearing, utcnow()):
            raise PublishRefused(
                "outside_window", f"hearing {hearing.id} is scheduled "
                f"{hearing.scheduled_start:%Y-%m-%d %H:%M}–{hearing.scheduled_end:%H:%M} UTC")
        return hearing, view.case

    async def _broadcast_for(self, hearing: Hearing) -> HearingBroadcast:
        assert hearing.id is not None
        broadcast = self._broadcasts.get(hearing.id)
        if broadcast is None:
            broadcast = HearingBroadcast(
                hearing, self.catalog, self.storage, segment_seconds=self.config.segment_seconds
            )
            await broadcast.load()
            self._broadcasts[hearing.id] = broadcast
        return broadcast

    # -- BroadcastControl ----------------------------------------------------------------

    async def end_hearing(self, hearing_id: int) -> None:
        async with self._lock:
            hearing = await asyncio.to_thread(self.catalog.hearing, hearing_id)
            broadcast = self._broadcasts.pop(hearing_id, None)
            if broadcast is None and hearing.status != HearingStatus.ENDED.value:
                # Nothing live in this process (never started, or started before a restart):
                # load what is stored so its playlists are closed too.
                broadcast = await self._broadcast_for(hearing)
                self._broadcasts.pop(hearing_id, None)
        if broadcast is not None:
            await broadcast.end()
            await broadcast.close()
            log.info("hearing %s ended", hearing_id)

    def rtmp_url(self, stream_key: str, request_host: str) -> str:
        host = self.config.rtmp.host
        if host in ("0.0.0.0", "::", ""):
            host = request_host.rsplit(":", 1)[0] if request_host.count(":") == 1 else request_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"rtmp://{host}:{self.rtmp_port}/live/{stream_key}"

    # -- housekeeping --------------------------------------------------------------------

    async def _end_overdue_hearings(self) -> None:
        """End hearings left live long after their scheduled end with nobody publishing."""
        while True:
            await asyncio.sleep(30)
            try:
                overdue = await asyncio.to_thread(self.catalog.hearings_due_to_end, utcnow())
                for hearing in overdue:
                    assert hearing.id is not None
                    active = self._broadcasts.get(hearing.id)
                    if active is None or active.publisher is None:
                        log.info("hearing %s is past its scheduled end: ending it", hearing.id)
                        await self.end_hearing(hearing.id)
            except NotFound:
                continue
            except Exception:
                log.exception("janitor pass failed")

    async def close(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        for broadcast in list(self._broadcasts.values()):
            await broadcast.close()
        self._broadcasts.clear()
