"""From a WHIP session's coded frames to the pipeline's `start()`/`write()` calls.

WebRTC gives each track its own RTP clock with a random origin. `SessionClock` places the
tracks on one timeline by arrival time (the earliest frame relative to its timestamp marks
each track's start). `Feed` holds frames until every announced track has its codec
configuration (H.264 needs a keyframe's SPS/PPS, AAC the encoder's AudioSpecificConfig), then
declares the tracks once and delivers what it held, in order. Pure: the time is passed in.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from typing import Final

from courtcast.ingest.publish import MediaSink
from courtcast.media import MediaPacket, TrackInfo, TrackKind

FALLBACK_SECONDS: Final = 2.0  # a track that stays unconfigured this long is left out
MAX_PENDING: Final = 1024
_ORDER: Final = (TrackKind.VIDEO, TrackKind.AUDIO)


class SessionClock:
    """Maps track-relative timestamps onto one session timeline.

    Until `freeze()`, each observation may move a track's anchor earlier (a keyframe that
    needed retransmissions arrives late; the frames after it show the true start).
    """

    def __init__(self) -> None:
        self._anchors: dict[TrackKind, float] = {}
        self._origin: float | None = None

    def observe(self, kind: TrackKind, ts: int, time_base: Fraction, arrival: float) -> None:
        estimate = arrival - float(ts * time_base)
        anchor = self._anchors.get(kind)
        if anchor is None or (self._origin is None and estimate < anchor):
            self._anchors[kind] = estimate

    def freeze(self) -> None:
        if self._origin is None and self._anchors:
            self._origin = min(self._anchors.values())

    def offset(self, kind: TrackKind, time_base: Fraction) -> int:
        """Where the track's timestamp 0 lies on the session timeline, in `time_base`."""
        anchor = self._anchors.get(kind)
        origin = self._origin if self._origin is not None else min(self._anchors.values(),
                                                                     default=0.0)
        if anchor is None:
            return 0
        return round(Fraction(anchor - origin) / time_base)


@dataclasses.dataclass(frozen=True, slots=True)
class _Held:
    kind: TrackKind
    ts: int
    data: bytes
    keyframe: bool
    time_base: Fraction
    arrival: float


class Feed:
    def __init__(self, consumer: MediaSink, expected: Iterable[TrackKind], *,
                 fallback: float = FALLBACK_SECONDS, max_pending: int = MAX_PENDING) -> None:
        self._consumer = consumer
        self._expected = frozenset(expected)
        self._fallback = fallback
        self._max_pending = max_pending
        self.clock = SessionClock()
        self._tracks: dict[TrackKind, TrackInfo] = {}
        self._declared: tuple[TrackInfo, ...] | None = None
        self._pending: deque[_Held] = deque()
        self.dropped = 0

    @property
    def started(self) -> bool:
        return self._declared is not None

    def observe(self, kind: TrackKind, ts: int, time_base: Fraction, arrival: float) -> None:
        """A frame arrived from the network (before any transcoding)."""
        self.clock.observe(kind, ts, time_base, arrival)

    def configure(self, track: TrackInfo, now: float) -> None:
        """A track's codec configuration is known, or changed."""
        old = self._tracks.get(track.kind)
        if old is not None and (old.codec, old.extradata) == (track.codec, track.extradata):
            return
        self._tracks[track.kind] = track
        if self.started:
            self._declare()  # a configuration change: the pipeline starts a new epoch
        else:
            self._maybe_start(now)

    def frame(self, kind: TrackKind, ts: int, data: bytes, keyframe: bool,
              time_base: Fraction, now: float) -> None:
        held = _Held(kind, ts, data, keyframe, time_base, now)
        if not self.started:
            self._pending.append(held)
            if len(self._pending) > self._max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._maybe_start(now)
            return
        self._deliver(held)

    def flush(self) -> None:
        """The publisher is leaving: start with what is configured so nothing held is lost."""
        if not self.started and self._tracks:
            self._start()

    def _maybe_start(self, now: float) -> None:
        if not self._tracks:
            return
        waited = now - self._pending[0].arrival if self._pending else 0.0
        if self._expected <= self._tracks.keys() or waited >= self._fallback:
            self._start()

    def _start(self) -> None:
        self.clock.freeze()
        self._declare()
        pending, self._pending = self._pending, deque()
        for held in pending:
            self._deliver(held)

    def _declare(self) -> None:
        self._declared = tuple(self._tracks[k] for k in _ORDER if k in self._tracks)
        self._consumer.start(self._declared)

    def _deliver(self, held: _Held) -> None:
        declared = self._declared or ()
        if all(track.kind is not held.kind for track in declared):
            self.dropped += 1  # a track that had no configuration when the feed started
            return
        pts = held.ts + self.clock.offset(held.kind, held.time_base)
        self._consumer.write(MediaPacket(held.kind, pts, pts, held.data, held.keyframe,
                                         held.time_base))
