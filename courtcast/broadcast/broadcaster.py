"""The broadcaster: admits publishers by stream key and runs each live hearing's broadcast."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from courtcast import metrics
from courtcast.broadcast.hearing import (
    INIT_TYPE,
    JPEG,
    POSTER,
    SEGMENT_TYPE,
    THUMBNAILS,
    VTT,
    HearingBroadcast,
    PacketListener,
)
from courtcast.broadcast.layout import HearingLayout, public_root
from courtcast.broadcast.playlists import PlaylistWriter
from courtcast.catalog.models import Case, Hearing, HearingStatus, Segment, utcnow
from courtcast.catalog.service import Catalog, NotFound
from courtcast.config import Config
from courtcast.ingest.publish import MediaSink, PublishRefused, PublishRequest
from courtcast.retention import expire_replays
from courtcast.storage.base import IMMUTABLE, ObjectMeta, Storage

log = logging.getLogger("courtcast.broadcast")

RETENTION_INTERVAL = 3600.0  # seconds between passes expiring replays past their retention


@dataclass(frozen=True, slots=True)
class PublishWindow:
    """When a stream key is valid, relative to the hearing's scheduled window."""

    early: timedelta = timedelta(minutes=30)  # courtrooms connect and test before the start
    late: timedelta = timedelta(hours=2)  # hearings overrun their scheduled end

    def admits(self, hearing: Hearing, now: datetime) -> bool:
        return hearing.scheduled_start - self.early <= now <= hearing.scheduled_end + self.late


def redact(stream_key: str) -> str:
    return f"{stream_key[:4]}…" if stream_key else "(empty)"


def _public_files(segments: list[Segment]) -> list[tuple[str, str]]:
    """(rendition, file) of init and media segments, each init before the first segment
    naming it."""
    files: list[tuple[str, str]] = []
    for segment in segments:
        init = (segment.rendition, segment.init_uri)
        if init not in files:
            files.append(init)
        files.append((segment.rendition, segment.uri))
    return files


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
        self._retiring: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._janitor = asyncio.create_task(self._housekeeping(), name="housekeeping")

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
        if self.storage.backlog_full and hearing.id not in self._broadcasts:
            # Storage is not keeping up and the local spool is full: hearings already on air
            # go on (their record is never dropped); new ones wait for storage to recover.
            raise PublishRefused("storage_backlog", "media storage is behind; try again later")
        view = await asyncio.to_thread(self.catalog.hearing_view, hearing.id)
        if view.case.restriction:
            raise PublishRefused(
                "restricted", f"case {view.case.case_number} may not be broadcast "
                f"({view.case.restriction})")
        if hearing.status in (HearingStatus.ENDED, HearingStatus.WITHDRAWN):
            raise PublishRefused("ended", f"hearing {hearing.id} has ended; the key has expired")
        if hearing.approved_at is None:
            raise PublishRefused(
                "not_approved", f"hearing {hearing.id} has not been approved for broadcast")
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
            broadcast = self._broadcasts.get(hearing_id)
            if broadcast is None and hearing.status != HearingStatus.ENDED.value:
                # Nothing live in this process (never started, or started before a restart):
                # load what is stored so its playlists are closed too.
                broadcast = await self._broadcast_for(hearing)
        if broadcast is None:
            return
        await broadcast.end()
        log.info("hearing %s ended", hearing_id)
        # A delayed public view keeps releasing (and stays cuttable) until it is done.
        task = asyncio.create_task(self._retire(hearing_id, broadcast))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, hearing_id: int, broadcast: HearingBroadcast) -> None:
        await broadcast.public_finished()
        async with self._lock:
            if self._broadcasts.get(hearing_id) is broadcast:
                del self._broadcasts[hearing_id]
        await broadcast.close()

    async def cut(self, hearing_id: int) -> None:
        broadcast = await self._live_broadcast(hearing_id)
        await broadcast.cut()

    async def resume(self, hearing_id: int) -> None:
        broadcast = await self._live_broadcast(hearing_id)
        await broadcast.resume()

    async def _live_broadcast(self, hearing_id: int) -> HearingBroadcast:
        """The hearing's broadcast, loaded from the catalog if this process has none yet (so
        a cut holds when its encoder reconnects after a restart)."""
        async with self._lock:
            broadcast = self._broadcasts.get(hearing_id)
            if broadcast is None:
                hearing = await asyncio.to_thread(self.catalog.hearing, hearing_id)
                broadcast = await self._broadcast_for(hearing)
            return broadcast

    async def withdraw(self, hearing_id: int) -> None:
        """Remove the public replay (and stop a live broadcast); the record stays."""
        async with self._lock:
            broadcast = self._broadcasts.pop(hearing_id, None)
        if broadcast is not None:
            await broadcast.withdraw()
            await broadcast.close()
        removed = await self.storage.delete_prefix(f"{public_root(hearing_id)}/")
        log.warning("hearing %s withdrawn: %d public object(s) removed", hearing_id, removed)

    async def restore(self, hearing_id: int) -> None:
        """Put back what the public had been allowed to see, from the court's record."""
        hearing = await asyncio.to_thread(self.catalog.hearing, hearing_id)
        published = await asyncio.to_thread(
            self.catalog.segments, hearing_id, rendition=None, published_only=True
        )
        layout = HearingLayout(hearing_id, hearing.record_token)
        for rendition, name in _public_files(published):
            meta = ObjectMeta(SEGMENT_TYPE if name.endswith(".m4s") else INIT_TYPE, IMMUTABLE)
            await self.storage.copy(layout.record(rendition, name), layout.public(rendition, name),
                                    meta)
        if hearing.has_poster:
            await self.storage.copy(layout.record_file(POSTER), layout.public_file(POSTER),
                                    ObjectMeta(JPEG, IMMUTABLE))
        if hearing.has_previews:
            names = [THUMBNAILS, *(k.rsplit("/", 1)[1] for k in await self.storage.list_keys(
                f"{layout.record_root}/thumbs/"))]
            for name in names:
                key = name if name == THUMBNAILS else f"thumbs/{name}"
                content_type = VTT if name == THUMBNAILS else JPEG
                await self.storage.copy(layout.record_file(key), layout.public_file(key),
                                        ObjectMeta(content_type, IMMUTABLE))
        writer = PlaylistWriter(layout, self.storage, self.config.segment_seconds)
        writer.load(published)
        await writer.restore_public(ended=hearing.status == HearingStatus.ENDED.value)
        log.info("hearing %s restored: %d public segment(s)", hearing_id, len(published))

    def watch(self, hearing_id: int, listener: PacketListener) -> Callable[[], None] | None:
        """Relay a live hearing's incoming feed to `listener`; None when nothing is live here.
        Call the returned function to stop."""
        broadcast = self._broadcasts.get(hearing_id)
        return broadcast.watch(listener) if broadcast is not None else None

    def rtmp_url(self, stream_key: str, request_host: str) -> str:
        host = self.config.rtmp.host
        if host in ("0.0.0.0", "::", ""):
            host = request_host.rsplit(":", 1)[0] if request_host.count(":") == 1 else request_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"rtmp://{host}:{self.rtmp_port}/live/{stream_key}"

    # -- housekeeping --------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Every 30 s: end abandoned hearings; every hour: expire replays past retention."""
        next_retention = 0.0
        while True:
            await asyncio.sleep(30)
            await self._end_overdue_hearings()
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + RETENTION_INTERVAL
                try:
                    await expire_replays(self.catalog, self, datetime.now(UTC))
                except Exception:
                    log.exception("retention pass failed")

    async def _end_overdue_hearings(self) -> None:
        """End hearings left live long after their scheduled end with nobody publishing."""
        try:
            overdue = await asyncio.to_thread(self.catalog.hearings_due_to_end, utcnow())
            for hearing in overdue:
                assert hearing.id is not None
                active = self._broadcasts.get(hearing.id)
                if active is None or active.publisher is None:
                    log.info("hearing %s is past its scheduled end: ending it", hearing.id)
                    await self.end_hearing(hearing.id)
        except NotFound:
            pass  # ended meanwhile by a clerk
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
        await asyncio.gather(*self._retiring, return_exceptions=True)
