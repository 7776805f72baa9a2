"""PyAV decoders fed with `MediaPacket`s: any codec FFmpeg decodes, whatever the publisher sent.

Audio leaves normalized for the AAC encoder: fltp, mono or stereo, 44.1/48 kHz, frames of 1024
samples, timestamps in 1/rate. `aresample=async=1` pins the audio to its packet timestamps
(silence fills a gap, overlaps are trimmed, both beyond 0.1 s), so sample counting never drifts
from the video over hours; ms-rounded RTMP timestamps stay below that threshold.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from typing import Any

import av
import av.filter

from courtcast.media import MediaPacket, TrackInfo

AAC_FRAME = 1024


def to_av_packet(packet: MediaPacket) -> Any:
    out = av.Packet(packet.data)
    out.pts = packet.pts
    out.dts = packet.dts
    out.time_base = packet.time_base
    out.is_keyframe = packet.keyframe
    return out


def _decoder(track: TrackInfo) -> Any:
    ctx: Any = av.CodecContext.create(track.codec, "r")
    if track.extradata:
        ctx.extradata = track.extradata
    return ctx


class VideoDecoder:
    """Frames (pts in the packet's time base) of one video track."""

    def __init__(self, track: TrackInfo, *, threads: bool = True) -> None:
        self._ctx = _decoder(track)
        if threads:
            self._ctx.thread_type = "AUTO"  # frame threads: a little latency, much less CPU time
        self._time_base = track.time_base

    def decode(self, packet: MediaPacket) -> list[Any]:
        self._time_base = packet.time_base
        return list(self._ctx.decode(to_av_packet(packet)))

    def flush(self) -> list[Any]:
        """Drain the frames still held for reordering; the decoder can go on afterwards."""
        frames = list(self._ctx.decode(None))
        for frame in frames:  # drained frames have no packet to take a time base from
            frame.time_base = frame.time_base or self._time_base
        self._ctx.flush_buffers()
        return frames

    def still(self, packet: MediaPacket) -> Any | None:
        """Decode a lone keyframe (thumbnails of a stream that is otherwise only copied)."""
        frames = self.decode(packet) + self.flush()
        return frames[-1] if frames else None


class AudioDecoder:
    """Decodes one audio track and normalizes it for `AudioEncoder`."""

    def __init__(self, track: TrackInfo, rate: int, channels: int) -> None:
        self._ctx = _decoder(track)
        if track.sample_rate:
            self._ctx.sample_rate = track.sample_rate
        if track.channels:
            self._ctx.layout = "mono" if track.channels == 1 else "stereo"
        self.rate = rate
        self.layout = "mono" if channels == 1 else "stereo"
        self._graph: Any = None
        self._input: tuple[str, str, int, Fraction] | None = None

    def decode(self, packet: MediaPacket) -> list[Any]:
        out: list[Any] = []
        for frame in self._ctx.decode(to_av_packet(packet)):
            out += self._filter(frame)
        return out

    def flush(self) -> list[Any]:
        """Everything left, the last frame padded by the encoder; the decoder is done."""
        out: list[Any] = []
        for frame in self._ctx.decode(None):
            out += self._filter(frame)
        if self._graph is not None:
            self._graph.push(None)
            out += self._pull()
        return out

    def _filter(self, frame: Any) -> list[Any]:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate, frame.time_base)
        if shape != self._input:
            out = self.flush_graph()
            self._graph, self._input = self._make_graph(*shape), shape
        else:
            out = []
        self._graph.push(frame)
        return out + self._pull()

    def flush_graph(self) -> list[Any]:
        if self._graph is None:
            return []
        self._graph.push(None)
        return self._pull()

    def _make_graph(self, fmt: str, layout: str, rate: int, time_base: Fraction) -> Any:
        graph = av.filter.Graph()
        nodes = [
            graph.add_abuffer(format=fmt, sample_rate=rate, layout=layout, time_base=time_base),
            graph.add("aresample", f"{self.rate}:async=1"),
            graph.add("aformat", f"sample_fmts=fltp:channel_layouts={self.layout}"),
            graph.add("abuffersink"),
        ]
        for upstream, downstream in pairwise(nodes):
            upstream.link_to(downstream)
        graph.configure()
        graph.set_audio_frame_size(AAC_FRAME)
        return graph

    def _pull(self) -> list[Any]:
        frames: list[Any] = []
        while True:
            try:
                frames.append(self._graph.pull())
            except (av.BlockingIOError, av.EOFError):
                return frames
