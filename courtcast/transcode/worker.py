"""One hearing's transcoding off the event loop: `LiveTranscoder`.

Threads: `start`, `write` and `flush` are called from one thread (the event loop) and never
block. A browser-compatible source is segmented right there, as cheap as before (stream copy,
never behind the publisher). Everything that decodes or encodes runs in one worker thread per
hearing, fed through a bounded queue (PyAV releases the GIL in codec calls, so hearings use all
cores). Events reach the caller's `emit` from both threads, so `emit` must be thread-safe.

Falling behind: lag is wall time now minus the arrival time of the packet being transcoded
(media time vs wall time). Beyond `max_lag` the most expensive rung is dropped for good (logged,
counted in `courtcast_renditions_dropped_total`), then the next one after a cooldown; the source
and audio-only renditions are kept. A full queue (a stalled worker) drops packets (counted) and
the video until its next keyframe, and sheds a rung at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

import av

from courtcast import metrics
from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.ladder import (
    DEFAULT_LADDER,
    SOURCE,
    LadderPlan,
    Profile,
    Rung,
    plan_renditions,
)
from courtcast.transcode.renditions import (
    Emit,
    RenditionEngine,
    RenditionOutput,
    RenditionSegment,
    RenditionStarted,
    ResumePoint,
    TranscodeOptions,
)
from courtcast.transcode.segmenter import SegmentOutput

log = logging.getLogger("courtcast.transcode")

MAX_LAG = 4.0  # seconds behind real time before a rung is shed (two 2 s segments)
QUEUE_LIMIT = 3000  # packets: about 40 s of 25 fps video with AAC


@dataclass(frozen=True, slots=True)
class _Packet:
    packet: MediaPacket
    wall: datetime
    monotonic: float


@dataclass(frozen=True, slots=True)
class _Start:
    tracks: tuple[TrackInfo, ...]


@dataclass(frozen=True, slots=True)
class _Flush:
    timeline_end: float | None
    done: Future[None]


_Item = _Packet | _Start | _Flush | None  # None stops the worker


class _Inbox:
    """Bounded for packets only: control items must never be refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[_Item] = deque()
        self._packets = 0
        self._ready = threading.Condition()

    def put_packet(self, item: _Packet) -> bool:
        with self._ready:
            if self._packets >= self.limit:
                return False
            self._packets += 1
            self._items.append(item)
            self._ready.notify()
            return True

    def put(self, item: _Item) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def get(self) -> _Item:
        with self._ready:
            while not self._items:
                self._ready.wait()
            item = self._items.popleft()
            if isinstance(item, _Packet):
                self._packets -= 1
            return item


class LiveTranscoder:
    """All renditions of one hearing; see the module docstring for threads and degradation.

    `profile` is the hearing's ("passthrough" | "ladder"); `options.overlay` set = the court asks
    for the caption; `resume`/`timeline_start` continue a hearing after a restart.
    """

    def __init__(
        self,
        profile: str,
        emit: Emit,
        *,
        options: TranscodeOptions | None = None,
        ladder: Sequence[Rung] = DEFAULT_LADDER,
        audio_only: bool = True,
        force_transcode: bool = False,
        resume: Mapping[str, ResumePoint] | None = None,
        timeline_start: float = 0.0,
        max_lag: float = MAX_LAG,
        queue_limit: int = QUEUE_LIMIT,
        name: str = "hearing",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = Profile(profile)
        self.emit = emit
        self.options = options or TranscodeOptions()
        self._ladder = tuple(ladder)
        self._audio_only = audio_only
        self._force = force_transcode
        self._resume = dict(resume or {})
        self._timeline_start = timeline_start
        self.max_lag = max_lag
        self.name = name
        self._clock = clock
        self._monotonic = monotonic
        self.plan: LadderPlan | None = None
        self.copy: RenditionOutput | None = None  # the source, segmented in the caller's thread
        self.engine: RenditionEngine | None = None
        self._inbox = _Inbox(queue_limit)
        self._thread: threading.Thread | None = None
        # What the worker needs of the source: every video packet only when a worker-side
        # rendition copies or encodes video; otherwise just keyframes (posters, previews).
        # Handing it packets it would drop costs a thread wake-up each.
        self._worker_video_keyframes_only = False
        self._worker_audio = True
        self._need_keyframe = False
        self._overflowed = False
        self.lag = 0.0  # seconds behind real time, updated by the worker
        self.packets_dropped = 0
        self._next_sample = 0.0
        self._next_drop = 0.0

    # --- the caller's side (event loop) ----------------------------------------------------

    def start(self, tracks: Sequence[TrackInfo]) -> LadderPlan:
        """Declare a publisher's tracks. ValueError: the media cannot be handled."""
        plan = self._plan(tracks)
        _check_decodable(tracks, plan)
        if self.plan is not None:
            self.flush_nowait()  # a new configuration without a detach in between
        if self.plan is None:
            self._set_up(plan)
        elif _shape(plan) != _shape(self.plan):
            raise ValueError("a reconnecting publisher must keep the hearing's kind of media")
        if self.copy is not None:
            self._emit_copy(self.copy.start(tracks))
            self.emit(RenditionStarted(SOURCE, tuple(tracks)))
        self._need_keyframe = False
        self._inbox.put(_Start(tuple(tracks)))
        assert self.plan is not None
        return self.plan

    def write(self, packet: MediaPacket) -> None:
        """Never blocks: a stalled worker loses packets (counted), never the copied source."""
        wall = self._clock()
        if self.copy is not None:
            self._emit_copy(self.copy.write(packet, wall))
        if packet.kind is TrackKind.VIDEO:
            if self._worker_video_keyframes_only and not packet.keyframe:
                return
        elif not self._worker_audio:
            return
        if self._need_keyframe and packet.kind is TrackKind.VIDEO:
            if not packet.keyframe:
                return
            self._need_keyframe = False
        if not self._inbox.put_packet(_Packet(packet, wall, self._monotonic())):
            self._overflow()

    def flush_nowait(self) -> Future[None]:
        """The publisher left: close every open segment; done when all are emitted."""
        done: Future[None] = Future()
        if self.engine is None:  # no tracks were ever declared
            done.set_result(None)
            return done
        end: float | None = None
        if self.copy is not None:
            self._emit_copy(self.copy.flush())
            end = self.copy.segmenter.timeline_end
        self._inbox.put(_Flush(end, done))
        return done

    async def flush(self) -> None:
        await asyncio.wrap_future(self.flush_nowait())

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker after everything queued (blocking: from a thread or at shutdown)."""
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout)
            self._thread = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # --- set-up -----------------------------------------------------------------------------

    def _plan(self, tracks: Sequence[TrackInfo]) -> LadderPlan:
        return plan_renditions(
            tracks,
            self.profile,
            ladder=self._ladder,
            audio_only=self._audio_only,
            overlay=self.options.overlay is not None,
            force_transcode=self._force,
        )

    def _set_up(self, plan: LadderPlan) -> None:
        self.plan = plan
        source = plan.rendition(SOURCE)
        specs = list(plan.renditions)
        if source.copy_only:
            self.copy = RenditionOutput(
                source, self.options, self._resume.get(SOURCE, ResumePoint()), self._timeline_start
            )
            specs.remove(source)
        self.engine = RenditionEngine(
            plan,
            specs,
            self.options,
            self.emit,
            resume=self._resume,
            timeline_start=self._timeline_start,
        )
        self._worker_video_keyframes_only = not any(
            spec.copy_video or spec.encodes_video for spec in specs)
        self._worker_audio = any(spec.audio for spec in specs)
        self._thread = threading.Thread(
            target=self._run, name=f"transcode-{self.name}", daemon=True
        )
        self._thread.start()

    def _emit_copy(self, outputs: Sequence[SegmentOutput]) -> None:
        for output in outputs:
            self.emit(RenditionSegment(SOURCE, output))

    def _overflow(self) -> None:
        self.packets_dropped += 1
        metrics.TRANSCODE_PACKETS_DROPPED.inc()
        self._need_keyframe = True  # the decoder needs a fresh start
        self._overflowed = True

    # --- the worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        while (item := self._inbox.get()) is not None:
            try:
                self._handle(item)
            except Exception:
                log.exception("%s: transcoding failed on %s", self.name, type(item).__name__)
                if isinstance(item, _Flush) and not item.done.done():
                    item.done.set_result(None)

    def _handle(self, item: _Packet | _Start | _Flush) -> None:
        engine = self.engine
        assert engine is not None
        if isinstance(item, _Packet):
            self._measure(item)
            engine.write(item.packet, item.wall)
        elif isinstance(item, _Start):
            engine.start(item.tracks)
        else:
            engine.flush(item.timeline_end)
            item.done.set_result(None)

    def _measure(self, item: _Packet) -> None:
        now = self._monotonic()
        self.lag = now - item.monotonic
        if now >= self._next_sample:
            metrics.TRANSCODE_LAG.observe(self.lag)
            self._next_sample = now + 1.0
        if self._overflowed or (self.lag > self.max_lag and now >= self._next_drop):
            self._overflowed = False
            self._next_drop = now + 2 * self.max_lag  # let the backlog shrink first
            self._degrade(f"{self.lag:.1f} s behind real time")

    def _degrade(self, reason: str) -> None:
        assert self.engine is not None
        candidates = self.engine.droppable()
        if not candidates:
            log.warning("%s: transcoding is %s and nothing is left to shed", self.name, reason)
            return
        name = candidates[0]
        log.warning("%s: dropping rendition %s, %s", self.name, name, reason)
        metrics.RENDITIONS_DROPPED.labels(name).inc()
        self.engine.drop(name, reason)


def _shape(plan: LadderPlan) -> tuple[tuple[str, bool, bool], ...]:
    """What must not change between publishers of one hearing: names and copy decisions."""
    return tuple((r.name, r.copy_video, r.copy_audio) for r in plan.renditions)


def _check_decodable(tracks: Sequence[TrackInfo], plan: LadderPlan) -> None:
    """Refuse a publisher now rather than fail in the worker at its first packet."""
    source = plan.rendition(SOURCE)
    for track in tracks:
        copied = source.copy_video if track.kind is TrackKind.VIDEO else source.copy_audio
        if copied and plan.renditions == (source,):
            continue
        try:
            av.Codec(track.codec, "r")
        except (av.FFmpegError, ValueError) as error:
            raise ValueError(f"no decoder for {track.kind} codec {track.codec!r}") from error
