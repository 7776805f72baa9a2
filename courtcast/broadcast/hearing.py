"""One hearing's broadcast: segments from the publisher, stored in order, listed in playlists.

Order of writes (so no viewer ever sees a playlist naming a missing object): init segment,
media segment, catalog row, record playlist; then the public copy and the public playlist.
A single worker task per hearing performs them, so segments land strictly in sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from courtcast import metrics
from courtcast.broadcast.layout import HearingLayout
from courtcast.broadcast.playlists import PlaylistWriter
from courtcast.broadcast.public import PublicView
from courtcast.catalog.models import Hearing, HearingStatus, Segment, utcnow
from courtcast.catalog.service import Catalog
from courtcast.ingest.publish import PacketConsumer, PublishRefused, PublishRequest
from courtcast.media import MediaPacket, TrackInfo
from courtcast.storage.base import IMMUTABLE, PRIVATE, ObjectMeta, Storage, StorageError
from courtcast.transcode.ladder import SOURCE
from courtcast.transcode.overlay import OverlayStyle
from courtcast.transcode.renditions import (
    Event,
    PosterReady,
    RenditionDropped,
    RenditionSegment,
    RenditionStarted,
    ResumePoint,
    SpriteSheetReady,
    TranscodeOptions,
)
from courtcast.transcode.segmenter import SegmentOutput
from courtcast.transcode.thumbnails import ThumbnailCollector
from courtcast.transcode.worker import LiveTranscoder

log = logging.getLogger("courtcast.broadcast")

RENDITION = SOURCE  # the rendition a passthrough hearing has; ladders add more
INIT_TYPE = "video/mp4"
SEGMENT_TYPE = "video/iso.segment"
JPEG = "image/jpeg"
VTT = "text/vtt"
POSTER = "poster.jpg"
THUMBNAILS = "thumbs.vtt"
COURT_TIME_ZONE = ZoneInfo("Asia/Shanghai")  # courts have no time-zone setting yet
STORAGE_ATTEMPTS = 5
END_GRACE_SECONDS = 1.0  # more than the RTMP server's read coalescing


# A monitor of a live hearing's incoming media (e.g. the WHEP relay) takes what a sink takes.
PacketListener = PacketConsumer


@dataclass(slots=True)
class _Produced:
    event: Event
    produced_at: float  # monotonic time the event was emitted (a segment's last packet came)


class HearingBroadcast:
    def __init__(
        self,
        hearing: Hearing,
        catalog: Catalog,
        storage: Storage,
        *,
        segment_seconds: float,
    ) -> None:
        assert hearing.id is not None
        self.hearing_id = hearing.id
        self.layout = HearingLayout(hearing.id, hearing.record_token)
        self.catalog = catalog
        self.storage = storage
        self.segment_seconds = segment_seconds
        self.status = HearingStatus(hearing.status)
        self.playlists = PlaylistWriter(self.layout, storage, segment_seconds)
        self.publisher: PublisherSink | None = None
        self._queue: asyncio.Queue[_Produced | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.transcoder: LiveTranscoder | None = None  # made by load()
        self.thumbnails = ThumbnailCollector(interval=10)
        self._loop_thread = threading.get_ident()
        self._loop = asyncio.get_running_loop()
        self._poster_at: float | None = None  # timeline second of a poster not yet public
        self._source_starts: dict[int, float] = {}  # source sequence -> timeline start
        self._public_source: list[Segment] = []  # source segments made public by this process
        self.tracks: Sequence[TrackInfo] = ()
        self.listeners: list[PacketListener] = []  # live monitors (WHEP) of the incoming feed
        self.public = PublicView(hearing.delay_seconds, self._publish_held)
        self.public.cut_active = self.status is HearingStatus.INTERRUPTED
        self._record_inits: set[tuple[str, int]] = set()  # (rendition, init id) in the record
        self._public_inits: set[tuple[str, str]] = set()  # (rendition, init file) made public
        self._finishing: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Pick up where a previous process left the hearing (restart recovery)."""
        view = await asyncio.to_thread(self.catalog.hearing_view, self.hearing_id)
        segments = await asyncio.to_thread(self.catalog.segments, self.hearing_id, rendition=None)
        self.playlists.load(segments)
        resume: dict[str, ResumePoint] = {}
        for segment in segments:  # ordered by rendition, then sequence: the last one wins
            resume[segment.rendition] = ResumePoint(segment.sequence + 1, segment.sequence + 1)
            if segment.published_at is not None:
                self._public_inits.add((segment.rendition, segment.init_uri))
        overlay = (OverlayStyle(view.court.name, COURT_TIME_ZONE)
                   if view.court.timestamp_overlay else None)
        self.transcoder = LiveTranscoder(
            view.hearing.profile,
            self._emit,
            options=TranscodeOptions(target_duration=self.segment_seconds, overlay=overlay,
                                     thumbnails=self.thumbnails),
            resume=resume,
            # Continue numbering, init files and the timeline where the stored record ends.
            timeline_start=sum(s.duration for s in segments if s.rendition == RENDITION),
            name=f"hearing-{self.hearing_id}",
        )
        self._worker = asyncio.create_task(self._run(), name=f"hearing-{self.hearing_id}")
        self.public.start()

    def _emit(self, event: Event) -> None:
        """Called by the transcoder, from this loop's thread or its worker thread."""
        item = _Produced(event, time.monotonic())
        if threading.get_ident() == self._loop_thread:
            self._queue.put_nowait(item)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # -- the publisher side -------------------------------------------------------------

    def attach(self, request: PublishRequest) -> PublisherSink:
        if self.status in (HearingStatus.ENDED, HearingStatus.WITHDRAWN):
            raise PublishRefused("ended", f"hearing {self.hearing_id} has ended")
        if self.publisher is not None:
            raise PublishRefused(
                "busy",
                f"hearing {self.hearing_id} already has a publisher ({self.publisher.remote})",
            )
        self.publisher = PublisherSink(self, request)
        metrics.ACTIVE_PUBLISHERS.labels(request.protocol).inc()
        return self.publisher

    def on_tracks(self, tracks: Sequence[TrackInfo]) -> None:
        assert self.transcoder is not None
        try:
            self.transcoder.start(tracks)
        except ValueError as exc:
            raise PublishRefused("unsupported_media", str(exc)) from exc
        self.tracks = tuple(tracks)
        for listener in list(self.listeners):
            self._tell(listener, listener.start, self.tracks)

    def on_packet(self, packet: MediaPacket) -> None:
        assert self.transcoder is not None
        self.transcoder.write(packet)
        for listener in self.listeners:
            self._tell(listener, listener.write, packet)

    def watch(self, listener: PacketListener) -> Callable[[], None]:
        """Relay the incoming feed to `listener` until the returned function is called."""
        self.listeners.append(listener)
        if self.tracks:
            self._tell(listener, listener.start, self.tracks)
        return lambda: self._unwatch(listener)

    def _unwatch(self, listener: PacketListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def _tell(self, listener: PacketListener, method: Callable[[Any], None], value: Any) -> None:
        # A failing monitor must never disturb the broadcast or the record.
        try:
            method(value)
        except Exception:
            log.exception("hearing %s: a monitor failed and was detached", self.hearing_id)
            self._unwatch(listener)

    async def detach(self, sink: PublisherSink) -> None:
        """The publisher left: store its last partial segment before anything else happens."""
        if self.publisher is not sink:
            return
        self.publisher = None
        sink.gone.set()
        metrics.ACTIVE_PUBLISHERS.labels(sink.protocol).dec()
        if self.transcoder is not None:
            await self.transcoder.flush()  # every open segment of every rendition
        await self.drain()

    async def drain(self) -> None:
        await self._queue.join()

    # -- control ------------------------------------------------------------------------

    async def end(self) -> None:
        """End the broadcast now: last segment stored, record closed, hearing ended.

        Segments still held back by the delay are released on their schedule (a cut can still
        drop them); the public playlist gets EXT-X-ENDLIST after the last of them.
        """
        self.status = HearingStatus.ENDED
        publisher = self.publisher
        if publisher is not None:
            # An encoder that just stopped may still have its last packets in flight: let it
            # finish by itself before cutting it off, so nothing it sent is refused.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publisher.gone.wait(), END_GRACE_SECONDS)
        if self.publisher is not None:
            self.publisher.ended = True
            await self.detach(self.publisher)
        await self.drain()
        await self.playlists.finish_record()
        await asyncio.to_thread(
            self.catalog.set_status, self.hearing_id, HearingStatus.ENDED.value
        )
        await self._store_thumbnails()
        if self.public.waiting:
            self._finishing = asyncio.create_task(self._finish_public_when_released())
        else:
            await self._finish_public()

    async def public_finished(self) -> None:
        """Wait until the public playlists of an ended hearing are closed."""
        if self._finishing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._finishing)

    async def _finish_public_when_released(self) -> None:
        await self.public.drained()
        await self._finish_public()
        log.info("hearing %s: the delayed public replay is complete", self.hearing_id)

    async def _store_thumbnails(self) -> None:
        """The seek-bar previews of the record: the last, partly filled sheet and the track."""
        sheets = self.thumbnails.sheet_count
        if not sheets:
            return
        await self._put(self.layout.record_file(f"thumbs/{sheets - 1}.jpg"),
                        self.thumbnails.render_sprite(sheets - 1), JPEG, PRIVATE)
        vtt = self.thumbnails.render_vtt(lambda sheet: f"thumbs/{sheet}.jpg")
        await self._put(self.layout.record_file(THUMBNAILS), vtt.encode(), VTT, PRIVATE)

    async def _finish_public(self) -> None:
        await self.playlists.finish_public()
        record, public = self.playlists.record[RENDITION], self.playlists.public[RENDITION]
        if self.thumbnails.sheet_count and public and len(public) == len(record):
            # Previews are public only when the public saw all of it: a preview of a cut
            # moment would show what the judge stopped.
            for name in [THUMBNAILS, *(f"thumbs/{n}.jpg"
                                       for n in range(self.thumbnails.sheet_count))]:
                content_type = VTT if name == THUMBNAILS else JPEG
                await self.storage.copy(self.layout.record_file(name),
                                        self.layout.public_file(name),
                                        ObjectMeta(content_type, IMMUTABLE))
            await asyncio.to_thread(self.catalog.set_public_media, self.hearing_id,
                                    previews=True)

    async def cut(self) -> int:
        """The judge's stop: nothing not yet public becomes public; the record goes on."""
        dropped = self.public.cut()
        if self.status is HearingStatus.ENDED:
            return dropped  # the delayed tail of an ended hearing: dropped, status stays
        self.status = HearingStatus.INTERRUPTED
        await asyncio.to_thread(
            self.catalog.set_status, self.hearing_id, HearingStatus.INTERRUPTED.value
        )
        log.warning("hearing %s: public broadcast cut; %d held segment(s) will never be public",
                    self.hearing_id, dropped)
        return dropped

    async def resume(self) -> None:
        self.public.resume()
        self.status = HearingStatus.LIVE
        await asyncio.to_thread(self.catalog.set_status, self.hearing_id, HearingStatus.LIVE.value)
        log.info("hearing %s: public broadcast resumed", self.hearing_id)

    async def withdraw(self) -> None:
        """A court order: publish nothing more and stop ingest; the record keeps what came.
        The caller then deletes the public location."""
        self.status = HearingStatus.WITHDRAWN
        self.public.cut()
        if self.publisher is not None:
            self.publisher.ended = True
            await self.detach(self.publisher)
        await self.drain()
        await self.public.drained()
        await self.playlists.finish_record()

    async def close(self) -> None:
        """Process shutdown: keep everything received; the hearing itself goes on.

        Segments still held by the delay stay unpublished: after a restart nobody could cut
        them any more, so they are left to the court's record.
        """
        if self.publisher is not None:
            await self.detach(self.publisher)
        await self.drain()
        if self._finishing is not None:
            self._finishing.cancel()
        await self.public.close()
        if self.transcoder is not None:
            await self.transcoder.aclose()
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker

    # -- the storage worker -------------------------------------------------------------

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                await self._handle(item)
            except Exception:
                log.exception("hearing %s: %s could not be stored", self.hearing_id, item.event)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    async def _handle(self, item: _Produced) -> None:
        match item.event:
            case RenditionSegment(rendition, output):
                await self._store(rendition, output, item.produced_at)
            case RenditionStarted(rendition, tracks):
                self.playlists.started(rendition, tracks)
            case RenditionDropped(rendition, reason):
                log.warning("hearing %s: rendition %s dropped: %s", self.hearing_id, rendition,
                            reason)
                await self.playlists.dropped(rendition)
            case PosterReady(jpeg, at):
                await self._put(self.layout.record_file(POSTER), jpeg, JPEG, PRIVATE)
                self._poster_at = at
                # Transcoding can lag the copied source: its segment may be public already.
                if any(self._shows(shown, at) for shown in self._public_source):
                    await self._poster_public()
            case SpriteSheetReady(sheet, jpeg):
                await self._put(self.layout.record_file(f"thumbs/{sheet}.jpg"), jpeg, JPEG,
                                PRIVATE)

    async def _store(self, rendition: str, out: SegmentOutput, produced_at: float) -> None:
        segment = Segment(
            hearing_id=self.hearing_id,
            rendition=rendition,
            sequence=out.sequence,
            uri=f"{out.sequence:06d}.m4s",
            init_uri=f"init-{out.init_id}.mp4",
            duration=out.duration,
            program_date_time=out.program_date_time.replace(tzinfo=None),
            discontinuity=out.discontinuity,
            size=out.size,
        )
        if rendition == RENDITION:
            self._source_starts[out.sequence] = out.start
        if (rendition, out.init_id) not in self._record_inits:
            await self._put(self.layout.record(rendition, segment.init_uri), out.init,
                            INIT_TYPE, PRIVATE)
        await self._put(self.layout.record(rendition, segment.uri), out.data, SEGMENT_TYPE,
                        PRIVATE)
        admitted = self._admits(segment)
        # Without a delay the public copy is made from the bytes in hand, before the catalog
        # row that says it is published (restart recovery rebuilds playlists from those rows).
        at_once = admitted and self.public.delay == 0 and not self.public.waiting
        if at_once:
            await self._put_public(segment, out.init, out.data)
            segment.published_at = utcnow()
        segment = await asyncio.to_thread(self.catalog.add_segment, segment)
        self._record_inits.add((rendition, out.init_id))
        metrics.SEGMENTS.inc()
        metrics.SEGMENT_BYTES.inc(segment.size)
        await self.playlists.add_record(segment)
        if at_once:
            await self._listed(segment)
            metrics.PUBLISH_LAG.observe(time.monotonic() - produced_at)
        elif admitted:
            self.public.hold(segment, produced_at)
        else:
            self.public.dropped += 1

    def _admits(self, segment: Segment) -> bool:
        return self.status is not HearingStatus.WITHDRAWN and self.public.admits(segment)

    async def _put_public(self, segment: Segment, init: bytes, data: bytes) -> None:
        rendition = segment.rendition
        if (rendition, segment.init_uri) not in self._public_inits:
            await self._put(self.layout.public(rendition, segment.init_uri), init, INIT_TYPE,
                            IMMUTABLE)
        await self._put(self.layout.public(rendition, segment.uri), data, SEGMENT_TYPE,
                        IMMUTABLE)

    async def _publish_held(self, segment: Segment) -> None:
        """Release a segment the delay held back: copy it from the record, then list it."""
        rendition = segment.rendition
        if (rendition, segment.init_uri) not in self._public_inits:
            await self._copy_to_public(rendition, segment.init_uri, INIT_TYPE)
        await self._copy_to_public(rendition, segment.uri, SEGMENT_TYPE)
        await asyncio.to_thread(
            self.catalog.mark_published, self.hearing_id, [segment.sequence], rendition
        )
        await self._listed(segment)

    async def _copy_to_public(self, rendition: str, name: str, content_type: str) -> None:
        source, target = self.layout.record(rendition, name), self.layout.public(rendition, name)
        meta = ObjectMeta(content_type, IMMUTABLE)
        await retry_storage(lambda: self.storage.copy(source, target, meta), target)

    async def _listed(self, segment: Segment) -> None:
        self._public_inits.add((segment.rendition, segment.init_uri))
        await self.playlists.add_public(segment)
        if segment.rendition == RENDITION:
            self._public_source.append(segment)
        if self._poster_at is not None and self._shows(segment, self._poster_at):
            await self._poster_public()
        if self.status is HearingStatus.SCHEDULED:
            await self._went_live()

    async def _poster_public(self) -> None:
        """The poster becomes public with the segment it was taken from, never before."""
        await self.storage.copy(self.layout.record_file(POSTER), self.layout.public_file(POSTER),
                                ObjectMeta(JPEG, IMMUTABLE))
        await asyncio.to_thread(self.catalog.set_public_media, self.hearing_id, poster=True)
        self._poster_at = None

    def _shows(self, segment: Segment, timeline: float) -> bool:
        start = self._source_starts.get(segment.sequence)
        return (segment.rendition == RENDITION and start is not None
                and start <= timeline < start + segment.duration)

    async def _went_live(self) -> None:
        """Live only once a viewer can actually play something."""
        self.status = HearingStatus.LIVE
        await asyncio.to_thread(self.catalog.set_status, self.hearing_id, HearingStatus.LIVE.value)
        log.info("hearing %s is live", self.hearing_id)

    async def _put(self, key: str, data: bytes, content_type: str, cache: str) -> None:
        meta = ObjectMeta(content_type, cache)
        await retry_storage(lambda: self.storage.put(key, data, meta), key)


async def retry_storage(operation: Callable[[], Awaitable[None]], what: str) -> None:
    """Retry a storage write with exponential backoff; the last error propagates."""
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            await operation()
            return
        except StorageError:
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            metrics.STORAGE_RETRIES.inc()
            log.warning("storage write of %s failed, retrying", what)
            await asyncio.sleep(0.2 * 2**attempt)


class PublisherSink:
    """The `MediaSink` a protocol server feeds for one publisher of one hearing."""

    def __init__(self, broadcast: HearingBroadcast, request: PublishRequest) -> None:
        self.broadcast = broadcast
        self.protocol = request.protocol
        self.remote = request.remote
        self.ended = False  # set when the hearing ends under a connected publisher
        self.gone = asyncio.Event()  # set once the publisher has detached

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        self._check()
        self.broadcast.on_tracks(tracks)

    def write(self, packet: MediaPacket) -> None:
        self._check()
        self.broadcast.on_packet(packet)

    def _check(self) -> None:
        if self.ended:
            # The protocol server closes the connection when its sink refuses packets.
            raise PublishRefused("ended", "the hearing has ended")

    async def close(self) -> None:
        self.ended = True  # a closed sink takes nothing more
        await self.broadcast.detach(self)


