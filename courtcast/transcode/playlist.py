"""Pure HLS playlist rendering and parsing (RFC 8216), for fMP4 segments.

Hearing playlists are EVENT playlists while live: every segment stays listed from the start so
viewers can rewind, and the playlist becomes VOD with EXT-X-ENDLIST when the hearing ends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.codecs import CodecConfigError, codec_string, video_geometry

VERSION = 7
# A PROGRAM-DATE-TIME tag is repeated only where extrapolating from the previous one would be
# off by more than this; players extrapolate, and hour-long EVENT playlists stay small.
DATE_TIME_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class PlaylistSegment:
    uri: str
    duration: float  # seconds
    program_date_time: datetime | None = None  # UTC wall clock of the first frame
    discontinuity: bool = False
    init_uri: str | None = None  # EXT-X-MAP
    sequence: int | None = None  # when known, a gap in sequences is rendered as a discontinuity


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    segments: Sequence[PlaylistSegment]
    target_duration: float = 2.0  # the configured target; the tag grows with longer segments
    ended: bool = False
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    independent_segments: bool = True  # every segment starts with a keyframe

    @property
    def target_duration_tag(self) -> int:
        longest = max((s.duration for s in self.segments), default=0.0)
        return target_duration_tag(self.target_duration, longest)

    def render(self) -> str:
        body = SegmentLines()
        body.extend(self.segments)
        return render_media(body, self.target_duration, ended=self.ended,
                            media_sequence=self.media_sequence,
                            discontinuity_sequence=self.discontinuity_sequence,
                            independent_segments=self.independent_segments)

    @classmethod
    def parse(cls, text: str) -> MediaPlaylist:
        return parse_media_playlist(text)


class SegmentLines:
    """A media playlist's segments with their lines, each rendered once as it is appended.

    A live EVENT playlist keeps every segment and is rewritten with each new one: rendering it
    whole every time would cost time growing with the hearing (30 ms at four hours).
    """

    def __init__(self) -> None:
        self.segments: list[PlaylistSegment] = []
        self.lines: list[str] = []
        self.longest = 0.0
        self._init: str | None = None
        self._expected: datetime | None = None  # where players' extrapolation puts the next
        self._previous: int | None = None

    def __len__(self) -> int:
        return len(self.segments)

    def extend(self, segments: Iterable[PlaylistSegment]) -> None:
        for segment in segments:
            self.append(segment)

    def append(self, segment: PlaylistSegment) -> None:
        lines = self.lines
        cut = segment.discontinuity or _sequence_gap(self._previous, segment.sequence)
        self._previous = segment.sequence
        if cut and lines:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.init_uri and (segment.init_uri != self._init or cut):
            lines.append(f'#EXT-X-MAP:URI="{segment.init_uri}"')
        self._init = segment.init_uri or self._init
        extinf = f"{segment.duration:.3f}"
        if segment.program_date_time is not None:
            when = _utc(segment.program_date_time)
            if cut or self._expected is None or _drifted(self._expected, when):
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date_time(when)}")
                self._expected = when
            self._expected += timedelta(seconds=float(extinf))
        lines += [f"#EXTINF:{extinf},", segment.uri]
        self.segments.append(segment)
        self.longest = max(self.longest, segment.duration)


def render_media(
    body: SegmentLines,
    target_duration: float,
    *,
    ended: bool = False,
    media_sequence: int = 0,
    discontinuity_sequence: int = 0,
    independent_segments: bool = True,
) -> str:
    """A media playlist of the segments in `body`; `target_duration` as in MediaPlaylist."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration_tag(target_duration, body.longest)}",
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
    ]
    if independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    lines.append(f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}")
    text = "\n".join(lines) + "\n"
    if body.lines:
        text += "\n".join(body.lines) + "\n"
    return text + "#EXT-X-ENDLIST\n" if ended else text


def target_duration_tag(target_duration: float, longest: float) -> int:
    """EXT-X-TARGETDURATION: no rounded EXTINF may exceed it (RFC 8216, 4.3.3.1)."""
    return max(1, math.ceil(target_duration - 1e-3), math.ceil(longest - 1e-3))


def _drifted(expected: datetime, actual: datetime) -> bool:
    return abs((actual - expected).total_seconds()) > DATE_TIME_TOLERANCE


def _sequence_gap(previous: int | None, current: int | None) -> bool:
    return previous is not None and current is not None and current != previous + 1


def _utc(when: datetime) -> datetime:
    """Naive datetimes are UTC by this project's convention (see catalog.models)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def format_date_time(when: datetime) -> str:
    """2026-11-21T10:00:00.000Z"""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_utc(when).microsecond // 1000:03d}Z"


def parse_date_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return _utc(parsed)


# --- parsing ---------------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def parse_attributes(text: str) -> dict[str, str]:
    """An HLS attribute list, with quotes removed from quoted strings."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


@dataclass
class _ParseState:
    segments: list[PlaylistSegment] = field(default_factory=list)
    duration: float | None = None  # from the pending EXTINF
    date_time: datetime | None = None
    discontinuity: bool = False
    init: str | None = None
    target: float = 0.0
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    ended: bool = False
    independent: bool = False


def parse_media_playlist(text: str) -> MediaPlaylist:
    """Our own media playlists back into entries; unknown or malformed lines are skipped.

    Segments without their own PROGRAM-DATE-TIME get the extrapolated one, so the entries
    carry the same wall clock a player would compute.
    """
    state = _ParseState()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            _parse_line(state, line)
        except (ValueError, OverflowError):
            state.duration = None  # a bad tag invalidates the segment it belongs to
    return MediaPlaylist(
        state.segments,
        target_duration=state.target or 2.0,
        ended=state.ended,
        media_sequence=state.media_sequence,
        discontinuity_sequence=state.discontinuity_sequence,
        independent_segments=state.independent,
    )


def _parse_line(state: _ParseState, line: str) -> None:
    if not line.startswith("#"):
        _add_segment(state, line)
        return
    tag, _, value = line.partition(":")
    if tag == "#EXTINF":
        state.duration = float(value.split(",", 1)[0])
        if not math.isfinite(state.duration) or state.duration < 0:
            raise ValueError("bad EXTINF")
    elif tag == "#EXT-X-PROGRAM-DATE-TIME":
        state.date_time = parse_date_time(value)
    elif tag == "#EXT-X-DISCONTINUITY":
        state.discontinuity = True
    elif tag == "#EXT-X-MAP":
        state.init = parse_attributes(value).get("URI") or state.init
    elif tag == "#EXT-X-TARGETDURATION":
        state.target = float(value)
    elif tag == "#EXT-X-MEDIA-SEQUENCE":
        state.media_sequence = int(value)
    elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
        state.discontinuity_sequence = int(value)
    elif tag == "#EXT-X-ENDLIST" or (tag == "#EXT-X-PLAYLIST-TYPE" and value == "VOD"):
        state.ended = True
    elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
        state.independent = True


def _add_segment(state: _ParseState, uri: str) -> None:
    if state.duration is None:
        return  # a URI without a (valid) EXTINF is junk
    previous = state.segments[-1] if state.segments else None
    when = state.date_time
    if when is None and previous is not None and previous.program_date_time is not None:
        when = previous.program_date_time + timedelta(seconds=previous.duration)
    state.segments.append(
        PlaylistSegment(
            uri=uri,
            duration=state.duration,
            program_date_time=when,
            discontinuity=state.discontinuity,
            init_uri=state.init,
            sequence=state.media_sequence + len(state.segments),
        )
    )
    state.duration = state.date_time = None
    state.discontinuity = False


# --- master playlist -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendition of a master playlist; a passthrough hearing has exactly one."""

    uri: str
    bandwidth: int  # peak bits/s over segments
    codecs: Sequence[str]  # RFC 6381, e.g. ("avc1.64001F", "mp4a.40.2")
    average_bandwidth: int | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None

    def attributes(self) -> str:
        parts = [f"BANDWIDTH={self.bandwidth}"]
        if self.average_bandwidth:
            parts.append(f"AVERAGE-BANDWIDTH={self.average_bandwidth}")
        if self.resolution:
            parts.append(f"RESOLUTION={self.resolution[0]}x{self.resolution[1]}")
        if self.frame_rate:
            parts.append(f"FRAME-RATE={self.frame_rate:.3f}")
        parts.append(f'CODECS="{",".join(self.codecs)}"')
        return ",".join(parts)


def render_master_playlist(variants: Sequence[Variant]) -> str:
    """Variants in the given order; players start with the first one listed."""
    if not variants:
        raise ValueError("a master playlist needs at least one variant")
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        lines += [f"#EXT-X-STREAM-INF:{variant.attributes()}", variant.uri]
    return "\n".join(lines) + "\n"


# --- bandwidth -------------------------------------------------------------------------------


@dataclass(slots=True)
class BandwidthMeter:
    """Peak and average segment bit rates for BANDWIDTH and AVERAGE-BANDWIDTH.

    Segments much shorter than the target (a publisher's last second, a cut at a reconnect) are
    left out of the peak: a lone keyframe in 0.2 s would otherwise state a peak no player sees.
    """

    target_duration: float = 2.0
    total_bytes: int = 0
    total_duration: float = 0.0
    peak: int = 0
    _short_peak: int = 0

    def add(self, size: int, duration: float) -> None:
        if duration <= 0:
            return
        self.total_bytes += size
        self.total_duration += duration
        rate = math.ceil(size * 8 / duration)
        if duration >= self.target_duration / 2:
            self.peak = max(self.peak, rate)
        else:
            self._short_peak = max(self._short_peak, rate)

    @property
    def bandwidth(self) -> int:
        return self.peak or self._short_peak

    @property
    def average(self) -> int:
        if self.total_duration <= 0:
            return 0
        return math.ceil(self.total_bytes * 8 / self.total_duration)


def source_variant(uri: str, tracks: Sequence[TrackInfo], meter: BandwidthMeter) -> Variant:
    """The passthrough rendition as a master playlist entry.

    Before the first segment the publisher's declared bit rates stand in for the measured ones;
    a codec without a known RFC 6381 string is left out rather than failing the playlist.
    """
    codecs: list[str] = []
    for track in tracks:
        try:
            codecs.append(codec_string(track))
        except CodecConfigError:
            continue
    video = next((t for t in tracks if t.kind is TrackKind.VIDEO), None)
    geometry = video_geometry(video) if video else None
    return Variant(
        uri=uri,
        bandwidth=meter.bandwidth or sum(t.bit_rate for t in tracks),
        codecs=tuple(codecs),
        average_bandwidth=meter.average or None,
        resolution=(geometry.width, geometry.height) if geometry else None,
        frame_rate=geometry.frame_rate if geometry else None,
    )
