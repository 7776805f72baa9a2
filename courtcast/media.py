"""Protocol-neutral media units: what every ingest protocol hands to transcoding.

Ingest parsers (RTMP/FLV, WHIP/RTP) turn their wire formats into these values, so the
segmenter, recorder and transcoder never know which protocol a packet came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

MILLISECONDS = Fraction(1, 1000)


class TrackKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One elementary stream as declared by the publisher.

    `codec` is the FFmpeg codec name ("h264", "aac", "hevc", "opus", ...). `extradata` is the
    codec configuration in its MP4 form: the AVCDecoderConfigurationRecord (avcC) for H.264,
    the AudioSpecificConfig for AAC. Timestamps of this track's packets are in `time_base`.
    """

    kind: TrackKind
    codec: str
    extradata: bytes = b""
    time_base: Fraction = MILLISECONDS
    width: int = 0
    height: int = 0
    frame_rate: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    bit_rate: int = 0  # declared by the publisher (bits/s), 0 when unknown


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One coded frame. H.264 data is AVCC (4-byte length-prefixed NAL units); AAC is raw."""

    kind: TrackKind
    dts: int
    pts: int
    data: bytes
    keyframe: bool = False
    time_base: Fraction = field(default=MILLISECONDS)
