"""Stream-copy remuxing of protocol-neutral packets into fMP4/CMAF HLS segments.

One long-lived PyAV `mp4` output container per publisher session ("epoch") writes a fragmented
MP4 into a memory sink; its top-level boxes are the HLS files: `ftyp`+`moov` is the init
segment (EXT-X-MAP) and each `moof`+`mdat` is one media segment. The muxer closes a fragment
at the first video keyframe after `target_duration` (frag_keyframe + min_frag_duration), so
every fragment is a segment that starts with a keyframe. Nothing is decoded.

The hearing has one continuous timeline: each epoch's timestamps are offset so that its first
keyframe lands where the previous epoch ended, the same offset for audio and video.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.codecs import (
    CodecConfigError,
    parse_audio_specific_config,
    video_geometry,
)
from courtcast.transcode.mp4 import BoxSplitter, TrackTiming, parse_fragment, parse_init
from courtcast.transcode.playlist import BandwidthMeter

# A keyframe this much before the target still closes a segment: publisher timestamps are
# rounded to milliseconds, and a 1.999 s GOP must not double the segment length.
CUT_TOLERANCE = 0.05
# Per-track timestamp jumps beyond these are publisher resets or garbage, not real gaps:
# the track is re-anchored right after its previous packet instead.
MAX_FORWARD_GAP = 10.0
MAX_BACKWARD_JUMP = 1.0
VIDEO_TIMESCALE = 90000  # exact for 1/1000 and 1/90000 publisher clocks


@dataclass(frozen=True, slots=True)
class SegmentOutput:
    """One CMAF media segment and the init segment it needs."""

    sequence: int  # 0, 1, 2, ... across the whole hearing
    init_id: int  # changes only when the init bytes change: write init_<id>.mp4 once
    init: bytes = field(repr=False)  # ftyp + moov
    data: bytes = field(repr=False)  # moof + mdat
    duration: float  # seconds
    start: float  # seconds on the hearing's continuous timeline
    discontinuity: bool  # the publisher reconnected or changed configuration before this
    keyframe_start: bool  # False only when a GOP longer than max_duration had to be split
    program_date_time: datetime  # UTC wall clock of the first frame

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def bitrate(self) -> int:
        """Bits per second of this segment (BANDWIDTH is the peak of these)."""
        return math.ceil(self.size * 8 / self.duration) if self.duration > 0 else 0


@dataclass(slots=True)
class SegmenterStats:
    """Counters of everything the segmenter had to drop or repair, for logs and metrics."""

    packets: int = 0
    dropped_before_keyframe: int = 0  # an epoch starts at a video keyframe
    dropped_unknown_track: int = 0  # a packet of a kind no TrackInfo declared
    dropped_out_of_order: int = 0  # audio going backwards in time
    fixed_timestamps: int = 0  # video dts nudged forward, or pts raised to dts
    timestamp_jumps: int = 0  # a track re-anchored after a reset or a wild timestamp
    mux_errors: int = 0  # FFmpeg refused a packet anyway; it is dropped


@dataclass(slots=True)
class _Track:
    """Timestamp state of one track within an epoch, in the track's time base."""

    info: TrackInfo
    stream: Any  # av.stream.Stream
    offset: int  # added to publisher timestamps
    floor: int  # nothing before the epoch's start (= previous epoch's end)
    step: int  # last dts increment: the assumed duration of the newest packet
    max_gap: int
    max_back: int
    last_dts: int | None = None
    max_pts: int = 0

    @property
    def end(self) -> Fraction:
        """Where the next epoch may start: after every decoded *and* presented frame."""
        if self.last_dts is None:
            return self.floor * self.info.time_base
        return (max(self.last_dts, self.max_pts) + self.step) * self.info.time_base


class _Muxer:
    """One fragmented-MP4 output container writing into a box splitter."""

    def __init__(self, tracks: Sequence[TrackInfo], target: float, max_duration: float) -> None:
        self.sink = BoxSplitter()
        has_video = any(t.kind is TrackKind.VIDEO for t in tracks)
        flags = "empty_moov+default_base_moof+frag_discont+skip_trailer"
        options = {
            # frag_discont + no edit list + no shifting: tfdt carries our absolute timeline.
            "use_editlist": "0",
            "avoid_negative_ts": "disabled",
            "video_track_timescale": str(VIDEO_TIMESCALE),
            "flush_packets": "1",  # a finished fragment reaches the sink in the same call
            "max_interleave_delta": "1000000",  # a silent track must not hold segments back
        }
        cut = str(int(max(target - CUT_TOLERANCE, 0.1) * 1e6))
        if has_video:
            flags = "frag_keyframe+" + flags
            options["min_frag_duration"] = cut
            options["frag_duration"] = str(int(max_duration * 1e6))  # a GOP that never ends
        else:
            options["frag_duration"] = cut
        options["movflags"] = flags
        self.container: Any = av.open(self.sink, "w", format="mp4", container_options=options)
        templates: Any = av.open(io.BytesIO(), "w", format="mp4")
        try:
            self.streams = [self._add_stream(templates, track) for track in tracks]
        finally:
            templates.close()

    def _add_stream(self, templates: Any, track: TrackInfo) -> Any:
        # A stream made from a template keeps its codec context closed (PyAV opens encoders
        # of streams made by add_stream), and unlike add_mux_stream it accepts extradata.
        if track.kind is TrackKind.VIDEO:
            stream = self.container.add_stream_from_template(templates.add_stream(track.codec))
            _configure_video(stream.codec_context, track)
        else:
            template = templates.add_stream(track.codec, rate=_sample_rate(track))
            stream = self.container.add_stream_from_template(template)
            _configure_audio(stream.codec_context, track)
        stream.time_base = track.time_base
        return stream

    def mux(self, track: _Track, data: bytes, dts: int, pts: int, keyframe: bool) -> None:
        packet = av.Packet(data)
        packet.stream = track.stream
        packet.time_base = track.info.time_base  # the stream's own becomes the muxer's
        packet.dts = dts
        packet.pts = pts
        packet.duration = track.step  # only the last sample's duration comes from this
        packet.is_keyframe = keyframe
        self.container.mux_one(packet)

    def close(self) -> None:
        self.container.close()  # writes the last fragment


def _configure_video(ctx: Any, track: TrackInfo) -> None:
    geometry = video_geometry(track)
    if geometry:
        ctx.width, ctx.height = geometry.width, geometry.height
    ctx.extradata = track.extradata or None
    if track.bit_rate:
        ctx.bit_rate = track.bit_rate
    if track.codec == "hevc":
        ctx.codec_tag = "hvc1"  # Apple players refuse hev1 in HLS


def _configure_audio(ctx: Any, track: TrackInfo) -> None:
    channels = track.channels
    if track.codec == "aac" and track.extradata and not channels:
        try:
            channels = parse_audio_specific_config(track.extradata).channels
        except CodecConfigError:
            channels = 0
    ctx.layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels or 2} channels")
    ctx.extradata = track.extradata or None
    if track.bit_rate:
        ctx.bit_rate = track.bit_rate


def _sample_rate(track: TrackInfo) -> int:
    if track.sample_rate:
        return track.sample_rate
    if track.codec == "aac" and track.extradata:
        try:
            return parse_audio_specific_config(track.extradata).sample_rate
        except CodecConfigError:
            pass
    return 48000


def _default_step(info: TrackInfo) -> Fraction:
    """Duration assumed for a track's packet before two of them have been seen."""
    if info.kind is TrackKind.VIDEO:
        return Fraction(1) / Fraction(info.frame_rate or 30).limit_denominator(1001)
    return Fraction(1024, info.sample_rate or 48000)


def _units(seconds: Fraction, time_base: Fraction) -> int:
    return round(seconds / time_base)


class Segmenter:
    """Cuts one hearing's packets into HLS segments; synchronous, no I/O, no asyncio.

    Usage: `start(tracks)`, then `write(packet)` for every packet, `flush()` when the publisher
    goes away; each call returns the segments completed by it. Call `start()` again for a new
    publisher or configuration and `discontinuity()` when the same tracks come back after a
    reconnect. `next_sequence`/`next_init_id`/`timeline_start` resume a hearing after a restart.
    """

    def __init__(
        self,
        target_duration: float = 2.0,
        *,
        max_duration: float = 10.0,
        next_sequence: int = 0,
        next_init_id: int = 0,
        timeline_start: float = 0.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if target_duration <= 0:
            raise ValueError("target_duration must be positive")
        self.target_duration = target_duration
        self.max_duration = max(max_duration, target_duration)
        self.stats = SegmenterStats()
        self.bandwidth = BandwidthMeter(target_duration)
        self._clock = clock
        self._sequence = next_sequence
        self._init_id = next_init_id - 1
        self._init = b""
        self._timings: dict[int, TrackTiming] = {}
        self._timeline_end = Fraction(timeline_start)
        self._cut = next_sequence > 0  # a restarted process cannot promise continuity
        self._infos: tuple[TrackInfo, ...] | None = None
        self._tracks: dict[TrackKind, _Track] = {}
        self._muxer: _Muxer | None = None
        self._ftyp = b""
        self._moof = b""
        self._anchor_wall = datetime.now(UTC)
        self._anchor_start = 0.0

    # --- public API ---------------------------------------------------------------------------

    def start(self, tracks: Sequence[TrackInfo]) -> list[SegmentOutput]:
        """Declare the tracks of a (new) publisher; returns what the previous one left open."""
        kinds = [t.kind for t in tracks]
        if not tracks or len(set(kinds)) != len(kinds):
            raise ValueError("need one or two tracks, at most one video and one audio")
        for track in tracks:
            if track.codec in ("h264", "hevc", "aac") and not track.extradata:
                raise ValueError(f"{track.codec} track without extradata (codec configuration)")
        try:  # refuse what the mp4 muxer cannot take now, not at the first keyframe
            _Muxer(tracks, self.target_duration, self.max_duration).close()
        except (av.FFmpegError, ValueError) as error:
            raise ValueError(f"cannot mux these tracks into fMP4: {error}") from error
        done = self.flush() if self._infos is not None else []
        self._infos = tuple(sorted(tracks, key=lambda t: t.kind is not TrackKind.VIDEO))
        return done

    def discontinuity(self) -> list[SegmentOutput]:
        """The publisher reconnected with the same tracks: cut here, continue the timeline."""
        return self.flush()

    def write(self, packet: MediaPacket) -> list[SegmentOutput]:
        if self._infos is None:
            raise RuntimeError("Segmenter.start() must declare the tracks first")
        self.stats.packets += 1
        if self._muxer is None and not self._open_epoch(packet):
            return []
        track = self._tracks.get(packet.kind)
        if track is None:
            self.stats.dropped_unknown_track += 1
            return []
        stamps = self._map(track, packet)
        muxer = self._muxer
        if stamps is None or muxer is None:
            return []
        keyframe = packet.keyframe or packet.kind is TrackKind.AUDIO
        try:
            muxer.mux(track, packet.data, stamps[0], stamps[1], keyframe)
        except av.FFmpegError:
            self.stats.mux_errors += 1
        return self._collect(muxer) if muxer.sink.pending else []

    def flush(self) -> list[SegmentOutput]:
        """Close the current epoch and emit its last, possibly short, segment."""
        muxer, self._muxer = self._muxer, None
        if muxer is None:
            return []
        try:
            muxer.close()
        except av.FFmpegError:
            self.stats.mux_errors += 1
        done = self._collect(muxer)
        self._timeline_end = max([self._timeline_end, *(t.end for t in self._tracks.values())])
        self._tracks = {}
        self._moof = b""
        self._cut = True
        return done

    @property
    def timeline_end(self) -> float:
        """Seconds of media accepted so far on the hearing's timeline."""
        ends = [self._timeline_end, *(t.end for t in self._tracks.values())]
        return float(max(ends))

    def align_timeline(self, timeline_end: float) -> None:
        """Between epochs: start the next one at `timeline_end` instead of this segmenter's own
        end, so renditions of one hearing (whose last audio frames end a few ms apart) keep one
        timeline and their segments stay aligned after a reconnect."""
        if self._muxer is not None:
            raise RuntimeError("align_timeline() only between epochs (after flush)")
        self._timeline_end = Fraction(timeline_end).limit_denominator(VIDEO_TIMESCALE * 1000)

    # --- epochs and timestamps ----------------------------------------------------------------

    def _open_epoch(self, packet: MediaPacket) -> bool:
        """Start a container at this packet if an epoch may start here."""
        assert self._infos is not None
        kinds = {t.kind for t in self._infos}
        if packet.kind not in kinds:
            self.stats.dropped_unknown_track += 1
            return False
        if TrackKind.VIDEO in kinds and not (packet.kind is TrackKind.VIDEO and packet.keyframe):
            self.stats.dropped_before_keyframe += 1
            return False
        self._muxer = _Muxer(self._infos, self.target_duration, self.max_duration)
        anchor = self._timeline_end - packet.dts * packet.time_base
        self._tracks = {
            info.kind: self._new_track(info, stream, anchor)
            for info, stream in zip(self._infos, self._muxer.streams, strict=True)
        }
        self._anchor_wall = self._clock()
        self._anchor_start = float(self._timeline_end)
        return True

    def _new_track(self, info: TrackInfo, stream: Any, anchor: Fraction) -> _Track:
        tb = info.time_base
        return _Track(
            info=info,
            stream=stream,
            offset=_units(anchor, tb),
            floor=_units(self._timeline_end, tb),
            step=max(1, _units(_default_step(info), tb)),
            max_gap=_units(Fraction(MAX_FORWARD_GAP), tb),
            max_back=_units(Fraction(MAX_BACKWARD_JUMP), tb),
        )

    def _map(self, track: _Track, packet: MediaPacket) -> tuple[int, int] | None:
        """Publisher timestamps -> strictly increasing timeline timestamps, or None to drop."""
        dts, pts = packet.dts, packet.pts
        if packet.time_base != track.info.time_base:
            scale = packet.time_base / track.info.time_base
            dts, pts = round(dts * scale), round(pts * scale)
        dts += track.offset
        pts += track.offset
        last = track.last_dts
        if last is None:
            if dts < track.floor:
                self.stats.dropped_before_keyframe += 1
                return None
        else:
            delta = dts - last
            if delta > track.max_gap or delta < -track.max_back:
                shift = last + track.step - dts
                track.offset += shift
                dts, pts = dts + shift, pts + shift
                self.stats.timestamp_jumps += 1
            elif delta <= 0:
                if packet.kind is TrackKind.AUDIO:
                    self.stats.dropped_out_of_order += 1
                    return None
                pts += last + 1 - dts  # keep the frame's pts-dts distance
                dts = last + 1
                self.stats.fixed_timestamps += 1
            else:
                track.step = delta
        if pts < dts:
            pts = dts
            self.stats.fixed_timestamps += 1
        track.last_dts = dts
        if pts > track.max_pts:
            track.max_pts = pts
        return dts, pts

    # --- output -------------------------------------------------------------------------------

    def _collect(self, muxer: _Muxer) -> list[SegmentOutput]:
        done: list[SegmentOutput] = []
        for kind, data in muxer.sink.boxes():
            if kind == "ftyp":
                self._ftyp = data
            elif kind == "moov":
                self._set_init(self._ftyp + data)
            elif kind == "moof":
                self._moof = data
            elif kind == "mdat" and self._moof:
                done.append(self._emit(self._moof + data))
                self._moof = b""
        return done

    def _set_init(self, init: bytes) -> None:
        if init != self._init:
            self._init = init
            self._init_id += 1
            self._timings = parse_init(init)

    def _emit(self, data: bytes) -> SegmentOutput:
        runs = {run.track_id: run for run in parse_fragment(data)}
        video = [i for i, t in self._timings.items() if t.handler == "vide" and i in runs]
        run = runs[video[0]] if video else min(runs.values(), key=lambda r: r.track_id)
        timescale = self._timings[run.track_id].timescale
        start = run.base_decode_time / timescale
        segment = SegmentOutput(
            sequence=self._sequence,
            init_id=self._init_id,
            init=self._init,
            data=data,
            duration=run.duration / timescale,
            start=start,
            discontinuity=self._cut and self._sequence > 0,
            keyframe_start=run.first_sync if video else True,
            program_date_time=self._anchor_wall + timedelta(seconds=start - self._anchor_start),
        )
        self._sequence += 1
        self._cut = False
        self.bandwidth.add(segment.size, segment.duration)
        return segment
