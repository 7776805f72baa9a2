"""What to make of a hearing's input: browser compatibility and the rendition plan. Pure.

`browser_compatibility(tracks)` says which tracks can be stream-copied into HLS for every
browser (MSE in Chromium/Firefox, Safari's native player): H.264 8-bit 4:2:0 and AAC-LC/HE at
44.1/48 kHz. `plan_renditions` turns that, the hearing's profile and the ladder into renditions:
a "source" (copied where possible, else transcoded at the source size), lower rungs that are
never above the source (no upscaling) and an audio-only variant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.codecs import (
    CodecConfigError,
    parse_audio_specific_config,
    parse_avcc,
    video_geometry,
)
from courtcast.transcode.playlist import BandwidthMeter, Variant, source_variant

SOURCE = "source"
AUDIO_ONLY = "audio"
BROWSER_SAMPLE_RATES = (44100, 48000)
BROWSER_AAC_OBJECTS = (2, 5)  # AAC-LC, HE-AAC; every MSE browser and Safari decode these
BROWSER_H264_PROFILES = (66, 77, 100)  # baseline, main, high: 8-bit 4:2:0 only
SOURCE_MAX_HEIGHT = 1080  # a transcoded source larger than this is encoded at 1080p
SOURCE_BITS_PER_PIXEL = 0.1  # bit rate of a transcoded source: 1080p25 -> about 5 Mbit/s
AUDIO_BITRATE = 96_000
AUDIO_ONLY_BITRATE = 64_000
START_HEIGHT = 480  # the variant players load first: good on a phone, sharp enough on a laptop


class Profile(StrEnum):
    """A hearing's transcoding profile (the values of `Hearing.profile`)."""

    PASSTHROUGH = "passthrough"  # the source only; transcoded only when browsers need it
    LADDER = "ladder"  # the source plus lower rungs and audio-only


@dataclass(frozen=True, slots=True)
class Rung:
    name: str
    height: int
    video_bitrate: int  # bits/s, the average the encoder aims at


DEFAULT_LADDER = (
    Rung("720p", 720, 2_500_000),
    Rung("480p", 480, 1_000_000),
    Rung("360p", 360, 600_000),
)


@dataclass(frozen=True, slots=True)
class Compatibility:
    """Whether each track can be stream-copied for browsers, and why not."""

    video_copy: bool
    audio_copy: bool
    reasons: tuple[str, ...] = ()

    @property
    def passthrough(self) -> bool:
        return self.video_copy and self.audio_copy


def browser_compatibility(tracks: Sequence[TrackInfo]) -> Compatibility:
    """Decide from the declared tracks alone; a missing track counts as compatible.

    B-frames and variable frame rate are fine in fMP4 for every browser, so they do not force a
    transcode here; transcoded renditions handle them (and late keyframes) anyway.
    """
    reasons: list[str] = []
    video = _track(tracks, TrackKind.VIDEO)
    audio = _track(tracks, TrackKind.AUDIO)
    video_reason = _video_problem(video) if video else None
    audio_reason = _audio_problem(audio) if audio else None
    reasons += [r for r in (video_reason, audio_reason) if r]
    return Compatibility(video_reason is None, audio_reason is None, tuple(reasons))


def needs_transcode(tracks: Sequence[TrackInfo]) -> bool:
    return not browser_compatibility(tracks).passthrough


def _track(tracks: Sequence[TrackInfo], kind: TrackKind) -> TrackInfo | None:
    return next((t for t in tracks if t.kind is kind), None)


def _video_problem(track: TrackInfo) -> str | None:
    if track.codec != "h264":
        return f"video codec {track.codec} is not H.264"
    try:
        profile = parse_avcc(track.extradata).profile
    except CodecConfigError as error:
        return f"H.264 configuration unreadable: {error}"
    if profile not in BROWSER_H264_PROFILES:
        return f"H.264 profile {profile} is not 8-bit 4:2:0 baseline/main/high"
    if video_geometry(track) is None:
        return "H.264 picture size unknown"
    return None


def _audio_problem(track: TrackInfo) -> str | None:
    if track.codec != "aac":
        return f"audio codec {track.codec} is not AAC"
    try:
        config = parse_audio_specific_config(track.extradata)
    except CodecConfigError as error:
        return f"AAC configuration unreadable: {error}"
    if config.object_type not in BROWSER_AAC_OBJECTS:
        return f"AAC object type {config.object_type} is not LC/HE"
    if config.sample_rate not in BROWSER_SAMPLE_RATES:
        return f"AAC at {config.sample_rate} Hz, browsers need 44100 or 48000"
    if (track.channels or config.channels) > 2:
        return "more than two audio channels"
    return None


@dataclass(frozen=True, slots=True)
class VideoTarget:
    width: int
    height: int
    bitrate: int


@dataclass(frozen=True, slots=True)
class RenditionSpec:
    """One variant. `video`/`audio` None = that track is not in it; copy flags = stream copy."""

    name: str
    video: VideoTarget | None = None
    copy_video: bool = False
    audio: bool = False  # carries the hearing's audio (copied or the shared AAC encode)
    copy_audio: bool = False
    overlay: bool = False  # burn in the timestamp/court name (transcoded video only)

    @property
    def copy_only(self) -> bool:
        """Pure stream copy: no decoder or encoder involved."""
        return self.video is None and (not self.audio or self.copy_audio)

    @property
    def encodes_video(self) -> bool:
        return self.video is not None


@dataclass(frozen=True, slots=True)
class LadderPlan:
    renditions: tuple[RenditionSpec, ...]
    compatibility: Compatibility
    audio_rate: int  # sample rate of the shared AAC encode (0 = no audio encode)
    audio_channels: int

    def rendition(self, name: str) -> RenditionSpec:
        return next(r for r in self.renditions if r.name == name)

    @property
    def encodes_audio(self) -> bool:
        return any(r.audio and not r.copy_audio for r in self.renditions)

    @property
    def encodes_video(self) -> bool:
        return any(r.encodes_video for r in self.renditions)


def plan_renditions(
    tracks: Sequence[TrackInfo],
    profile: str = Profile.PASSTHROUGH,
    *,
    ladder: Sequence[Rung] = DEFAULT_LADDER,
    audio_only: bool = True,
    overlay: bool = False,
    force_transcode: bool = False,
) -> LadderPlan:
    """The renditions of a hearing, best first; `force_transcode` re-encodes even a good source
    (e.g. to burn the overlay into it)."""
    compat = browser_compatibility(tracks)
    video = _track(tracks, TrackKind.VIDEO)
    audio = _track(tracks, TrackKind.AUDIO)
    copy_video = compat.video_copy and not force_transcode
    copy_audio = compat.audio_copy and not force_transcode
    size = _source_size(video) if video else None
    unknown = VideoTarget(0, 0, 0)  # transcoded at the size of the first decoded frame
    source = RenditionSpec(
        SOURCE,
        video=None if copy_video or not video else source_target(*size) if size else unknown,
        copy_video=copy_video and video is not None,
        audio=audio is not None,
        copy_audio=copy_audio and audio is not None,
        overlay=overlay and not copy_video,
    )
    renditions = [source]
    if profile == Profile.LADDER and size is not None:
        top = min(size[1], SOURCE_MAX_HEIGHT)
        renditions += [
            RenditionSpec(r.name, _scaled(size, r), audio=audio is not None, overlay=overlay)
            for r in ladder
            if r.height < top
        ]
    if profile == Profile.LADDER and audio is not None and video is not None and audio_only:
        renditions.append(RenditionSpec(AUDIO_ONLY, audio=True, copy_audio=False))
    rate, channels = _audio_output(audio)
    plan = LadderPlan(tuple(renditions), compat, rate, channels)
    return plan if plan.encodes_audio else LadderPlan(plan.renditions, compat, 0, 0)


def _source_size(track: TrackInfo) -> tuple[int, int] | None:
    geometry = video_geometry(track)
    return (geometry.width, geometry.height) if geometry else None


def source_target(width: int, height: int) -> VideoTarget:
    """A transcoded source: its own size up to 1080 lines, bit rate by area."""
    if height > SOURCE_MAX_HEIGHT:
        width, height = _even(width * SOURCE_MAX_HEIGHT / height), SOURCE_MAX_HEIGHT
    bitrate = int(width * height * 25 * SOURCE_BITS_PER_PIXEL)
    return VideoTarget(_even(width), _even(height), max(bitrate, 300_000))


def _scaled(size: tuple[int, int], rung: Rung) -> VideoTarget:
    width, height = size
    return VideoTarget(_even(width * rung.height / height), rung.height, rung.video_bitrate)


def _even(value: float) -> int:
    """H.264 4:2:0 needs even dimensions."""
    return max(2, round(value / 2) * 2)


def _audio_output(track: TrackInfo | None) -> tuple[int, int]:
    if track is None:
        return 0, 0
    rate = track.sample_rate if track.sample_rate in BROWSER_SAMPLE_RATES else 48000
    return rate, 1 if track.channels == 1 else 2


# --- the master playlist ------------------------------------------------------------------------


def master_variants(
    renditions: Mapping[str, tuple[Sequence[TrackInfo], BandwidthMeter]],
    uri: Callable[[str], str],
) -> list[Variant]:
    """Variants for `render_master_playlist`, from each live rendition's tracks (as announced by
    `RenditionStarted`) and its bandwidth meter. The rendition nearest START_HEIGHT comes first
    (players start with it), then the others by bandwidth, audio-only last."""
    variants = {
        name: source_variant(uri(name), tracks, meter)
        for name, (tracks, meter) in renditions.items()
    }
    video = [v for v in variants.values() if v.resolution]
    others = [v for v in variants.values() if not v.resolution]
    video.sort(key=lambda v: v.bandwidth, reverse=True)
    if video:
        start = min(video, key=lambda v: abs((v.resolution or (0, 0))[1] - START_HEIGHT))
        video.remove(start)
        video.insert(0, start)
    others.sort(key=lambda v: v.bandwidth, reverse=True)
    return video + others
