"""When a publisher's tracks are known, and delivering its packets in order once they are.

RTMP announces codecs piecemeal: metadata (optional, sometimes wrong) says which tracks to
expect, then each track's sequence header carries its configuration. `TrackAssembler` holds
packets back until every expected track is configured, then declares the tracks to the consumer
and delivers the held packets in arrival order; nothing received is dropped unless it can never
be delivered (a track that never got a configuration).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Final

from courtcast.ingest.publish import PacketConsumer
from courtcast.media import MediaPacket, TrackInfo, TrackKind

FALLBACK_MS: Final = 1000  # media time to wait for a missing header before starting without it
MAX_PENDING: Final = 4096  # packets held before start; ~1 s of media is far below this
_ORDER: Final = (TrackKind.VIDEO, TrackKind.AUDIO)


class TrackAssembler:
    def __init__(self, consumer: PacketConsumer, *, fallback_ms: int = FALLBACK_MS,
                 max_pending: int = MAX_PENDING) -> None:
        self._consumer = consumer
        self._fallback_ms = fallback_ms
        self._max_pending = max_pending
        self._headers: dict[TrackKind, TrackInfo] = {}
        self._expected: dict[TrackKind, bool | None] = dict.fromkeys(_ORDER)
        self._declared: frozenset[TrackKind] | None = None  # None until the first start()
        self._pending: deque[MediaPacket] = deque()
        self._first_pending_dts = 0
        self._last_dts: dict[TrackKind, int] = {}
        self.dropped = 0  # packets of tracks that were never configured

    @property
    def started(self) -> bool:
        return self._declared is not None

    @property
    def tracks(self) -> list[TrackInfo]:
        return [self._headers[kind] for kind in _ORDER if kind in self._headers]

    def expect(self, kind: TrackKind, present: bool) -> None:
        """Metadata (or an unsupported codec) says whether `kind` will get a configuration."""
        self._expected[kind] = present
        if not self.started and self._ready():
            self._start()

    def header(self, track: TrackInfo) -> None:
        old = self._headers.get(track.kind)
        if old is not None and (old.codec, old.extradata) == (track.codec, track.extradata):
            return  # encoders repeat sequence headers before keyframes
        self._headers[track.kind] = track
        if self.started or self._ready():
            self._start()  # first declaration, a new track or a configuration change

    def packet(self, packet: MediaPacket) -> None:
        declared = self._declared
        if declared is not None:
            if packet.kind in declared:
                self._write(packet)
            else:
                self.dropped += 1
            return
        if not self._pending:
            self._first_pending_dts = packet.dts
        self._pending.append(packet)
        waited = packet.dts - self._first_pending_dts
        full = len(self._pending) >= self._max_pending
        if self._headers and (waited >= self._fallback_ms or full):
            self._start()  # metadata missing or wrong: go with what is known
        elif len(self._pending) > self._max_pending:
            self._pending.popleft()  # nothing configured at all: these can never be delivered
            self.dropped += 1

    def flush(self) -> None:
        """The publisher is gone: declare what is known so held packets are not lost."""
        if not self.started and self._headers:
            self._start()

    def _ready(self) -> bool:
        if not self._headers:
            return False
        return all(kind in self._headers or self._expected[kind] is False for kind in _ORDER)

    def _start(self) -> None:
        tracks = self.tracks
        self._declared = frozenset(track.kind for track in tracks)
        self._consumer.start(tracks)
        pending, self._pending = self._pending, deque()
        for packet in pending:
            if packet.kind in self._declared:
                self._write(packet)
            else:
                self.dropped += 1

    def _write(self, packet: MediaPacket) -> None:
        last = self._last_dts.get(packet.kind)
        if last is not None and packet.dts < last:
            # Muxers reject decreasing DTS; a publisher glitch must not poison the recording.
            packet = dataclasses.replace(packet, dts=last, pts=max(packet.pts, last))
        self._last_dts[packet.kind] = packet.dts
        self._consumer.write(packet)
