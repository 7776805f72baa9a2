"""The transcoding core of one hearing: decode once, then scale, caption, encode and segment every
rendition. Synchronous and single-threaded (`LiveTranscoder` runs it in a worker thread).

Alignment: every encoded rendition gets a keyframe exactly where the source has one (plus one
forced after `max_gop` seconds without), scene cuts are off, and the same `Segmenter` rule cuts
every rendition, so segment boundaries fall on the same instants everywhere. Encoded video has
no B-frames; its dts is set to pts minus the source's decoding delay, so each rendition's epoch
starts at the same decode time and maps to the same timeline (and program date time) as the
copied source.

Wall clock: an epoch's first video keyframe (first packet without video) arrived at `anchor
wall`; media time t of that epoch was captured at anchor_wall + (t - anchor_media). Segments'
program date times and the burned-in clock both use this mapping.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import partial
from typing import Any

import av
from av.video.reformatter import VideoReformatter

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.codecs import video_geometry
from courtcast.transcode.decoders import AudioDecoder, VideoDecoder
from courtcast.transcode.encoders import (
    VIDEO_TIME_BASE,
    AudioEncoder,
    EncoderSettings,
    VideoEncoder,
)
from courtcast.transcode.ladder import (
    SOURCE,
    LadderPlan,
    RenditionSpec,
    VideoTarget,
    source_target,
)
from courtcast.transcode.overlay import OverlayStyle, TextOverlay
from courtcast.transcode.segmenter import Segmenter, SegmentOutput
from courtcast.transcode.thumbnails import ThumbnailCollector, make_poster

log = logging.getLogger("courtcast.transcode")

AUDIO_HOLD = 2.0  # seconds of audio held back waiting for video before it is written anyway


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenditionStarted:
    """A rendition (re)starts with these tracks: its master playlist entry (CODECS etc.)."""

    rendition: str
    tracks: tuple[TrackInfo, ...]


@dataclass(frozen=True, slots=True)
class RenditionSegment:
    rendition: str
    output: SegmentOutput


@dataclass(frozen=True, slots=True)
class RenditionDropped:
    """No more segments of this rendition for the rest of the hearing (the machine is behind)."""

    rendition: str
    reason: str


@dataclass(frozen=True, slots=True)
class PosterReady:
    jpeg: bytes
    time: float  # timeline seconds of the frame


@dataclass(frozen=True, slots=True)
class SpriteSheetReady:
    """A full sprite sheet; partial ones come from `ThumbnailCollector.render_sprite`."""

    sheet: int
    jpeg: bytes


Event = RenditionStarted | RenditionSegment | RenditionDropped | PosterReady | SpriteSheetReady
Emit = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a rendition's stored segments end (restart recovery), as for `Segmenter`."""

    next_sequence: int = 0
    next_init_id: int = 0


@dataclass(frozen=True, slots=True)
class TranscodeOptions:
    target_duration: float = 2.0
    max_duration: float = 10.0
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    overlay: OverlayStyle | None = None  # the caption of renditions whose spec asks for it
    poster_after: float = 5.0  # timeline seconds: the poster is the first frame after this
    thumbnails: ThumbnailCollector | None = None  # None: no seek-bar previews


@dataclass(slots=True)
class EngineStats:
    frames_decoded: int = 0
    frames_encoded: int = 0
    forced_keyframes: int = 0  # keyframes the source did not send within max_gop
    frames_dropped: int = 0  # before the first keyframe, or timestamps going backwards
    codec_errors: int = 0  # packets a decoder or encoder refused


# --- one rendition's segmenting ------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _seconds(time_base: Fraction) -> float:
    return float(time_base)


class RenditionOutput:
    """A rendition's `Segmenter`, fed in decode order and stamped with the media's wall clock."""

    def __init__(
        self,
        spec: RenditionSpec,
        options: TranscodeOptions,
        resume: ResumePoint,
        timeline_start: float,
    ) -> None:
        self.spec = spec
        self._wall = datetime.now(UTC)
        self.segmenter = Segmenter(
            options.target_duration,
            max_duration=options.max_duration,
            next_sequence=resume.next_sequence,
            next_init_id=resume.next_init_id,
            timeline_start=timeline_start,
            clock=lambda: self._wall,
        )
        self.started = False
        self.has_video = False
        # (packet, wall clock, dts in seconds): seconds as floats, once per packet, because
        # Fraction arithmetic on every comparison cost more than the remux itself.
        self._audio: deque[tuple[MediaPacket, datetime, float]] = deque()
        self._video_dts: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def start(self, tracks: Sequence[TrackInfo]) -> list[SegmentOutput]:
        done = self.flush() if self.started else []
        done += self.segmenter.start(tracks)
        self.started = True
        self.has_video = any(t.kind is TrackKind.VIDEO for t in tracks)
        return done

    def write(self, packet: MediaPacket, wall: datetime) -> list[SegmentOutput]:
        if packet.kind is TrackKind.AUDIO and self.has_video:
            self._audio.append((packet, wall, packet.dts * _seconds(packet.time_base)))
            return self._release(force=False)
        done = self._write(packet, wall)
        if packet.kind is TrackKind.VIDEO:
            self._video_dts = packet.dts * _seconds(packet.time_base)
            if self._audio:
                done += self._release(force=False)
        return done

    def _write(self, packet: MediaPacket, wall: datetime) -> list[SegmentOutput]:
        self._wall = wall
        return self.segmenter.write(packet)

    def _release(self, *, force: bool) -> list[SegmentOutput]:
        """Audio up to the newest video (encoders emit video later than audio)."""
        done: list[SegmentOutput] = []
        while self._audio:
            packet, wall, dts = self._audio[0]
            stale = self._audio[-1][2] - dts > AUDIO_HOLD
            if not (force or stale or (self._video_dts is not None and dts <= self._video_dts)):
                break
            self._audio.popleft()
            done += self._write(packet, wall)
        return done

    def flush(self) -> list[SegmentOutput]:
        done = self._release(force=True) + self.segmenter.flush()
        self._video_dts = None
        self.started = False
        return done


# --- the engine ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Encoded:
    """A rendition with its own video encode."""

    output: RenditionOutput
    target: VideoTarget
    scaler: VideoReformatter = field(default_factory=VideoReformatter)
    encoder: VideoEncoder | None = None
    overlay: TextOverlay | None = None


@dataclass(slots=True)
class _Epoch:
    """One publisher session's decoding state."""

    tracks: tuple[TrackInfo, ...]
    video: VideoDecoder | None = None
    audio: AudioDecoder | None = None
    audio_encoder: AudioEncoder | None = None
    anchor_wall: datetime | None = None
    anchor_media: Fraction = Fraction(0)
    delay: Fraction = Fraction(0)  # the source's pts - dts at its first keyframe
    last_pts: Fraction | None = None
    last_key: Fraction | None = None

    @property
    def source_video(self) -> TrackInfo | None:
        return next((t for t in self.tracks if t.kind is TrackKind.VIDEO), None)


class RenditionEngine:
    """Transcodes the renditions `specs` (a subset of `plan`); events go to `emit`.

    Call `start(tracks)`, `write(packet, arrival)` per packet (arrival = when it reached us,
    UTC), `flush()` when the publisher leaves; `drop(name)` to shed a rendition for good.
    """

    def __init__(
        self,
        plan: LadderPlan,
        specs: Sequence[RenditionSpec],
        options: TranscodeOptions,
        emit: Emit,
        *,
        resume: Mapping[str, ResumePoint] | None = None,
        timeline_start: float = 0.0,
    ) -> None:
        self.plan = plan
        self.options = options
        self.emit = emit
        self.stats = EngineStats()
        self.timeline = timeline_start  # where the current/next epoch starts
        resume = resume or {}
        self.outputs = {
            s.name: RenditionOutput(s, options, resume.get(s.name, ResumePoint()), timeline_start)
            for s in specs
        }
        self._encoded: list[_Encoded] = []
        self._epoch: _Epoch | None = None
        self._poster_done = False
        self._poster_fallback: PosterReady | None = None  # the first frame, if none comes later
        self.dropped: list[str] = []

    # --- epochs ---------------------------------------------------------------------------

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        if self._epoch is not None:
            self.flush()
        epoch = _Epoch(tuple(tracks))
        video, audio = epoch.source_video, _audio_track(tracks)
        if video is not None and self._decodes_video:
            epoch.video = VideoDecoder(video)
        if audio is not None and self.plan.encodes_audio and self._encodes_audio:
            epoch.audio = AudioDecoder(audio, self.plan.audio_rate, self.plan.audio_channels)
            epoch.audio_encoder = AudioEncoder(
                self.plan.audio_rate, self.plan.audio_channels, self.options.encoder.audio_bitrate
            )
        self._epoch = epoch
        self._encoded = [
            _Encoded(o, o.spec.video)
            for o in self.outputs.values()
            if o.spec.video is not None and video is not None
        ]
        self._encoded.sort(key=lambda e: e.target.height)  # the unscaled source goes last
        for output in self.outputs.values():
            if not output.spec.encodes_video:
                self._start_output(output, self._tracks_of(output.spec, None))

    def _start_output(self, output: RenditionOutput, tracks: tuple[TrackInfo, ...]) -> None:
        self._emit_segments(output.name, output.start(tracks))
        self.emit(RenditionStarted(output.name, tracks))

    def _tracks_of(self, spec: RenditionSpec, video: TrackInfo | None) -> tuple[TrackInfo, ...]:
        assert self._epoch is not None
        tracks: list[TrackInfo] = []
        if spec.copy_video and self._epoch.source_video is not None:
            tracks.append(self._epoch.source_video)
        elif video is not None:
            tracks.append(video)
        if spec.audio and spec.copy_audio:
            tracks += [t for t in self._epoch.tracks if t.kind is TrackKind.AUDIO]
        elif spec.audio and self._epoch.audio_encoder is not None:
            tracks.append(self._epoch.audio_encoder.track)
        return tuple(tracks)

    @property
    def _decodes_video(self) -> bool:
        wants_stills = self.options.thumbnails is not None or not self._poster_done
        return bool(self._encoded_specs) or wants_stills

    @property
    def _encoded_specs(self) -> list[RenditionSpec]:
        return [o.spec for o in self.outputs.values() if o.spec.encodes_video]

    @property
    def _encodes_audio(self) -> bool:
        return any(o.spec.audio and not o.spec.copy_audio for o in self.outputs.values())

    def flush(self, timeline_end: float | None = None) -> None:
        """End the epoch: everything decoded, encoded and segmented. The next epoch starts at
        `timeline_end` (the copied source's end when it is segmented elsewhere) or at the end
        of the longest rendition."""
        epoch, self._epoch = self._epoch, None
        if epoch is None:
            return
        self._drain(epoch)
        for output in self.outputs.values():
            if output.started:
                self._emit_segments(output.name, output.flush())
        ends = [o.segmenter.timeline_end for o in self.outputs.values()]
        self.timeline = timeline_end if timeline_end is not None else max([self.timeline, *ends])
        for output in self.outputs.values():
            output.segmenter.align_timeline(self.timeline)
        self._encoded = []
        if not self._poster_done and self._poster_fallback is not None:
            self._poster_done = True
            self.emit(self._poster_fallback)

    def _drain(self, epoch: _Epoch) -> None:
        if epoch.video is not None and epoch.anchor_wall is not None:
            for frame in self._guard(epoch.video.flush):
                self._on_frame(epoch, frame)
        for item in self._encoded:
            if item.encoder is not None:
                for packet in self._guard(item.encoder.flush):
                    self._write_video(epoch, item.output, packet)
        if epoch.audio is not None and epoch.audio_encoder is not None:
            encoder = epoch.audio_encoder
            for frame in self._guard(epoch.audio.flush):
                self._write_audio(epoch, self._guard(partial(encoder.encode, frame)))
            self._write_audio(epoch, self._guard(encoder.flush))

    def drop(self, name: str, reason: str) -> None:
        """Stop a rendition for the rest of the hearing; its open segment is still emitted."""
        output = self.outputs.pop(name, None)
        if output is None:
            return
        self._encoded = [e for e in self._encoded if e.output is not output]
        if output.started:
            self._emit_segments(name, output.flush())
        self.dropped.append(name)
        self.emit(RenditionDropped(name, reason))

    def droppable(self) -> list[str]:
        """Encoded renditions that may be shed, most expensive first (never the source)."""
        specs = [s for s in self._encoded_specs if s.name != SOURCE and s.video is not None]
        specs.sort(key=lambda s: (s.video.width * s.video.height) if s.video else 0, reverse=True)
        return [s.name for s in specs]

    # --- packets --------------------------------------------------------------------------

    def write(self, packet: MediaPacket, arrival: datetime) -> None:
        epoch = self._epoch
        if epoch is None:
            raise RuntimeError("RenditionEngine.start() must declare the tracks first")
        if packet.kind is TrackKind.VIDEO:
            self._video_packet(epoch, packet, arrival)
        elif epoch.anchor_wall is not None or epoch.source_video is None:
            if epoch.anchor_wall is None:  # audio-only source: anchored at its first packet
                self._anchor(epoch, packet, arrival)
            self._audio_packet(epoch, packet)

    def _video_packet(self, epoch: _Epoch, packet: MediaPacket, arrival: datetime) -> None:
        if epoch.anchor_wall is None:
            if not packet.keyframe:
                self.stats.frames_dropped += 1
                return
            self._anchor(epoch, packet, arrival)
        wall = self._wall(epoch, packet.dts * packet.time_base)
        for output in self._copies(video=True):
            self._emit_segments(output.name, output.write(packet, wall))
        if epoch.video is None:
            return
        if self._encoded:
            for frame in self._guard(partial(epoch.video.decode, packet)):
                self._on_frame(epoch, frame)
        elif packet.keyframe and self._wants_still(epoch, packet):
            frame = self._guard_one(partial(epoch.video.still, packet))
            if frame is not None:
                self._stills(frame, self._timeline_of(epoch, frame))

    def _audio_packet(self, epoch: _Epoch, packet: MediaPacket) -> None:
        wall = self._wall(epoch, packet.dts * packet.time_base)
        for output in self._copies(video=False):
            self._emit_segments(output.name, output.write(packet, wall))
        if epoch.audio is None or epoch.audio_encoder is None:
            return
        encoder = epoch.audio_encoder
        for frame in self._guard(partial(epoch.audio.decode, packet)):
            self._write_audio(epoch, self._guard(partial(encoder.encode, frame)))

    def _copies(self, *, video: bool) -> list[RenditionOutput]:
        return [
            o
            for o in self.outputs.values()
            if o.started and (o.spec.copy_video if video else o.spec.audio and o.spec.copy_audio)
        ]

    def _anchor(self, epoch: _Epoch, packet: MediaPacket, arrival: datetime) -> None:
        epoch.anchor_wall = arrival
        epoch.anchor_media = packet.dts * packet.time_base
        if packet.kind is TrackKind.VIDEO and self.plan.rendition(SOURCE).copy_video:
            epoch.delay = (packet.pts - packet.dts) * packet.time_base

    def _wall(self, epoch: _Epoch, media: Fraction) -> datetime:
        assert epoch.anchor_wall is not None
        return epoch.anchor_wall + timedelta(seconds=float(media - epoch.anchor_media))

    def _timeline_of(self, epoch: _Epoch, frame: Any) -> float:
        return self.timeline + float(frame.pts * frame.time_base - epoch.anchor_media)

    # --- frames ---------------------------------------------------------------------------

    def _on_frame(self, epoch: _Epoch, frame: Any) -> None:
        if frame.pts is None or frame.time_base is None:
            self.stats.frames_dropped += 1
            return
        pts = frame.pts * frame.time_base
        if epoch.last_pts is not None and pts <= epoch.last_pts:
            self.stats.frames_dropped += 1  # x264 refuses timestamps that do not increase
            return
        epoch.last_pts = pts
        self.stats.frames_decoded += 1
        keyframe = self._keyframe(epoch, frame, pts)
        timeline = self._timeline_of(epoch, frame)
        self._stills(frame, timeline, thumbnails=not self._encoded)
        pts90 = round(pts / VIDEO_TIME_BASE)
        for index, item in enumerate(self._encoded):
            picture = self._picture(epoch, item, frame)
            if index == 0 and self.options.thumbnails is not None:
                self._thumbnail(picture, timeline)
            if item.overlay is not None:
                item.overlay.apply(picture, self._wall(epoch, pts))
            assert item.encoder is not None
            packets = self._guard(partial(item.encoder.encode, picture, pts90, keyframe))
            self.stats.frames_encoded += 1
            for packet in packets:
                self._write_video(epoch, item.output, packet)

    def _keyframe(self, epoch: _Epoch, frame: Any, pts: Fraction) -> bool:
        late = epoch.last_key is not None and pts - epoch.last_key >= Fraction(
            self.options.encoder.max_gop
        )
        if late and not frame.key_frame:
            self.stats.forced_keyframes += 1
        if frame.key_frame or late or epoch.last_key is None:
            epoch.last_key = pts
            return True
        return False

    def _picture(self, epoch: _Epoch, item: _Encoded, frame: Any) -> Any:
        """The frame at the rendition's size, yuv420p, safe to draw on."""
        if item.encoder is None:
            self._open_encoder(epoch, item, frame)
        target = item.target
        picture = item.scaler.reformat(
            frame, target.width, target.height, "yuv420p", interpolation="BICUBIC"
        )
        if picture is frame and item.overlay is not None:
            picture.make_writable()  # never draw into a picture the decoder still references
        return picture

    def _open_encoder(self, epoch: _Epoch, item: _Encoded, frame: Any) -> None:
        if not item.target.width:  # size unknown before the first frame
            item.target = source_target(frame.width, frame.height)
        rate = _frame_rate(epoch.source_video)
        item.encoder = VideoEncoder(item.target, rate, self.options.encoder)
        style = self.options.overlay
        if item.output.spec.overlay and style is not None:
            item.overlay = TextOverlay(style, item.target.width, item.target.height)
        self._start_output(item.output, self._tracks_of(item.output.spec, item.encoder.track))

    def _write_video(self, epoch: _Epoch, output: RenditionOutput, packet: MediaPacket) -> None:
        # All renditions share the source's decoding delay: same first dts, same timeline.
        delay = round(epoch.delay / packet.time_base)
        aligned = replace(packet, dts=packet.pts - delay)
        wall = self._wall(epoch, aligned.dts * aligned.time_base)
        self._emit_segments(output.name, output.write(aligned, wall))

    def _write_audio(self, epoch: _Epoch, packets: list[MediaPacket]) -> None:
        for packet in packets:
            wall = self._wall(epoch, packet.dts * packet.time_base)
            for output in self.outputs.values():
                if output.started and output.spec.audio and not output.spec.copy_audio:
                    self._emit_segments(output.name, output.write(packet, wall))

    # --- posters and thumbnails -----------------------------------------------------------

    def _wants_still(self, epoch: _Epoch, packet: MediaPacket) -> bool:
        timeline = self.timeline + float(packet.pts * packet.time_base - epoch.anchor_media)
        thumbs = self.options.thumbnails
        wants_poster = not self._poster_done and (
            self._poster_fallback is None or timeline >= self.options.poster_after
        )
        return wants_poster or (thumbs is not None and thumbs.wants(timeline))

    def _stills(self, frame: Any, timeline: float, thumbnails: bool = True) -> None:
        if not self._poster_done:
            if timeline >= self.options.poster_after:
                self._poster(frame, timeline)
            elif self._poster_fallback is None:
                self._poster_fallback = PosterReady(make_poster(frame), timeline)
        if thumbnails and self.options.thumbnails is not None:
            self._thumbnail(frame, timeline)

    def _poster(self, frame: Any, timeline: float) -> None:
        self._poster_done = True
        self._poster_fallback = None
        self.emit(PosterReady(make_poster(frame), timeline))

    def _thumbnail(self, picture: Any, timeline: float) -> None:
        collector = self.options.thumbnails
        if collector is None or not collector.wants(timeline):
            return
        sheet = collector.add(picture, timeline)
        if sheet is not None:
            self.emit(SpriteSheetReady(sheet, collector.render_sprite(sheet)))

    # --- plumbing -------------------------------------------------------------------------

    def _emit_segments(self, name: str, outputs: Sequence[SegmentOutput]) -> None:
        for output in outputs:
            self.emit(RenditionSegment(name, output))

    def _guard(self, call: Callable[[], list[Any]]) -> list[Any]:
        """A packet a codec refuses is counted and skipped; the hearing goes on."""
        try:
            return call()
        except av.FFmpegError as error:
            self.stats.codec_errors += 1
            log.warning("codec error, skipped: %s", error)
            return []

    def _guard_one(self, call: Callable[[], Any]) -> Any:
        found = self._guard(lambda: [call()])
        return found[0] if found else None


def _audio_track(tracks: Sequence[TrackInfo]) -> TrackInfo | None:
    return next((t for t in tracks if t.kind is TrackKind.AUDIO), None)


def _frame_rate(track: TrackInfo | None) -> float:
    geometry = video_geometry(track) if track is not None else None
    return (geometry.frame_rate if geometry else None) or 25.0
