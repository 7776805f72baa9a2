"""One hearing's broadcast: segments from the publisher, stored in order, listed in playlists.

Order of writes (so no viewer ever sees a playlist naming a missing object): init segment,
media segment, catalog row, record playlist; then the public copy and the public playlist.
A single worker task per hearing performs them, so segments land strictly in sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from courtcast import metrics
from courtcast.broadcast.layout import HearingLayout
from courtcast.broadcast.playlists import PlaylistWriter
from courtcast.catalog.models import Hearing, HearingStatus, Segment, utcnow
from courtcast.catalog.service import Catalog
from courtcast.ingest.publish import PublishRefused, PublishRequest
from courtcast.media import MediaPacket, TrackInfo
from courtcast.storage.base import IMMUTABLE, PRIVATE, ObjectMeta, Storage, StorageError
from courtcast.transcode.segmenter import Segmenter, SegmentOutput

log = logging.getLogger("courtcast.broadcast")

RENDITION = "source"
INIT_TYPE = "video/mp4"
SEGMENT_TYPE = "video/iso.segment"
STORAGE_ATTEMPTS = 5
END_GRACE_SECONDS = 1.0  # more than the RTMP server's read coalescing


@dataclass(slots=True)
class _Produced:
    output: SegmentOutput
    produced_at: float  # monotonic time the segment's last packet arrived


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
        self.segmenter = Segmenter(segment_seconds)
        self.tracks: Sequence[TrackInfo] = ()
        self._stored_inits: set[int] = set()

    async def load(self) -> None:
        """Pick up where a previous process left the hearing (restart recovery)."""
        segments = await asyncio.to_thread(self.catalog.segments, self.hearing_id)
        self.playlists.load(segments)
        if segments:
            # Continue numbering, init files and the timeline where the stored record ends.
            self.segmenter = Segmenter(
                self.segment_seconds,
                next_sequence=segments[-1].sequence + 1,
                next_init_id=segments[-1].sequence + 1,
                timeline_start=sum(segment.duration for segment in segments),
            )
        self._worker = asyncio.create_task(self._run(), name=f"hearing-{self.hearing_id}")

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
        try:
            self._enqueue(self.segmenter.start(tracks))
        except ValueError as exc:
            raise PublishRefused("unsupported_media", str(exc)) from exc
        self.tracks = tuple(tracks)

    def on_packet(self, packet: MediaPacket) -> None:
        self._enqueue(self.segmenter.write(packet))

    async def detach(self, sink: PublisherSink) -> None:
        """The publisher left: store its last partial segment before anything else happens."""
        if self.publisher is not sink:
            return
        self.publisher = None
        sink.gone.set()
        metrics.ACTIVE_PUBLISHERS.labels(sink.protocol).dec()
        self._enqueue(self.segmenter.flush())
        await self.drain()

    def _enqueue(self, outputs: Sequence[SegmentOutput]) -> None:
        now = time.monotonic()
        for output in outputs:
            self._queue.put_nowait(_Produced(output, now))

    async def drain(self) -> None:
        await self._queue.join()

    # -- control ------------------------------------------------------------------------

    async def end(self) -> None:
        """End the broadcast now: last segment stored, playlists closed, hearing ended."""
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
        await self.playlists.finish()
        await asyncio.to_thread(
            self.catalog.set_status, self.hearing_id, HearingStatus.ENDED.value
        )

    async def close(self) -> None:
        """Process shutdown: keep everything received; the hearing itself goes on."""
        if self.publisher is not None:
            await self.detach(self.publisher)
        await self.drain()
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker

    # -- the storage worker -------------------------------------------------------------

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                await self._store(item)
            except Exception:
                log.exception("hearing %s: segment %s could not be stored",
                              self.hearing_id, item.output.sequence)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    async def _store(self, item: _Produced) -> None:
        out = item.output
        new_init = out.init_id not in self._stored_inits
        segment = Segment(
            hearing_id=self.hearing_id,
            rendition=RENDITION,
            sequence=out.sequence,
            uri=f"{out.sequence:06d}.m4s",
            init_uri=f"init-{out.init_id}.mp4",
            duration=out.duration,
            program_date_time=out.program_date_time.replace(tzinfo=None),
            discontinuity=out.discontinuity,
            size=out.size,
        )
        await self._write_files(self.layout.record, segment, out, new_init, PRIVATE)
        # With no delay or cut holding it back, the public copy is made at once. It is
        # written before the catalog row that says it is published (restart recovery
        # rebuilds the public playlist from those rows).
        await self._write_files(self.layout.public, segment, out, new_init, IMMUTABLE)
        segment.published_at = utcnow()
        segment = await asyncio.to_thread(self.catalog.add_segment, segment)
        self._stored_inits.add(out.init_id)
        metrics.SEGMENTS.inc()
        metrics.SEGMENT_BYTES.inc(segment.size)
        await self.playlists.add_record(segment)
        await self.playlists.add_public(segment, self.tracks)
        metrics.PUBLISH_LAG.observe(time.monotonic() - item.produced_at)
        if self.status is HearingStatus.SCHEDULED:
            await self._went_live()

    async def _write_files(
        self,
        location: Callable[[str, str], str],
        segment: Segment,
        out: SegmentOutput,
        new_init: bool,
        cache: str,
    ) -> None:
        if new_init:
            await self._put(location(RENDITION, segment.init_uri), out.init, INIT_TYPE, cache)
        await self._put(location(RENDITION, segment.uri), out.data, SEGMENT_TYPE, cache)

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
        await self.broadcast.detach(self)


