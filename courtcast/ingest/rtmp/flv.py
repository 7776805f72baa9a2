"""FLV tag bodies, as carried by RTMP audio (8) and video (9) messages, into media values.

Supported: H.264 (legacy codec id 7 and Enhanced RTMP 'avc1'), HEVC (Enhanced RTMP 'hvc1' and
the widespread non-standard codec id 12), AV1 and VP9 FourCCs, AAC (legacy and 'mp4a') and Opus.
Anything else is reported as `UnsupportedCodec`, so the caller can tell the publisher's operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.codecs import (
    CodecConfigError,
    parse_audio_specific_config,
    parse_h264_sps,
)

_VIDEO_CODECS: Final = {2: "flv1", 3: "flashsv", 4: "vp6f", 5: "vp6a", 6: "flashsv2", 7: "h264",
                        12: "hevc"}
_VIDEO_FOURCC: Final = {b"avc1": "h264", b"hvc1": "hevc", b"av01": "av1", b"vp09": "vp9"}
_AUDIO_CODECS: Final = {0: "pcm", 1: "adpcm_swf", 2: "mp3", 3: "pcm_s16le", 4: "nellymoser",
                        5: "nellymoser", 6: "nellymoser", 7: "pcm_alaw", 8: "pcm_mulaw",
                        10: "aac", 11: "speex", 14: "mp3", 15: "device_specific"}
_AUDIO_FOURCC: Final = {b"mp4a": "aac", b"Opus": "opus", b".mp3": "mp3", b"fLaC": "flac",
                        b"ac-3": "ac3", b"ec-3": "eac3"}
_SUPPORTED_AUDIO: Final = frozenset(("aac", "opus"))
_WITH_CTO: Final = frozenset(("h264", "hevc"))  # codecs whose coded frames carry an SI24 CTO
_KEYFRAME: Final = 1
_COMMAND_FRAME: Final = 5
_EX_HEADER: Final = 0x80
_AUDIO_EX_HEADER: Final = 9
# Enhanced RTMP packet types
_SEQUENCE_START: Final = 0
_CODED_FRAMES: Final = 1
_SEQUENCE_END: Final = 2
_CODED_FRAMES_X: Final = 3


class FlvError(ValueError):
    """An audio or video message body is malformed."""


@dataclass(frozen=True, slots=True)
class SequenceHeader:
    """Codec configuration: declares (or re-declares) a track."""

    track: TrackInfo


@dataclass(frozen=True, slots=True)
class CodedFrame:
    packet: MediaPacket


@dataclass(frozen=True, slots=True)
class EndOfSequence:
    kind: TrackKind


@dataclass(frozen=True, slots=True)
class UnsupportedCodec:
    kind: TrackKind
    codec: str  # FFmpeg-style name of what the publisher sends


@dataclass(frozen=True, slots=True)
class Skipped:
    """A valid body that carries no media (command frames, Enhanced RTMP metadata, ...)."""

    kind: TrackKind
    reason: str


FlvResult: TypeAlias = SequenceHeader | CodedFrame | EndOfSequence | UnsupportedCodec | Skipped


def _need(body: bytes, n: int, what: str) -> None:
    if len(body) < n:
        raise FlvError(f"{what}: body of {len(body)} bytes, need at least {n}")


# -- video ------------------------------------------------------------------------------


def parse_video(body: bytes, timestamp: int) -> FlvResult:
    """Parse a video message body; `timestamp` is its (unwrapped) time in milliseconds."""
    _need(body, 1, "video tag")
    if body[0] & _EX_HEADER:
        return _enhanced_video(body, timestamp)
    frame_type, codec_id = body[0] >> 4, body[0] & 0x0F
    codec = _VIDEO_CODECS.get(codec_id)
    if codec not in _WITH_CTO:
        return UnsupportedCodec(TrackKind.VIDEO, codec or f"flv-video-{codec_id}")
    if frame_type == _COMMAND_FRAME:
        return Skipped(TrackKind.VIDEO, "video command frame")
    _need(body, 5, f"{codec} video tag")
    packet_type = body[1]
    if packet_type == 0:
        return SequenceHeader(_video_track(codec, body[5:]))
    if packet_type == 1:
        cto = int.from_bytes(body[2:5], "big", signed=True)
        return _video_frame(body[5:], timestamp, cto, frame_type)
    if packet_type == 2:
        return EndOfSequence(TrackKind.VIDEO)
    raise FlvError(f"unknown AVC packet type {packet_type}")


def _enhanced_video(body: bytes, timestamp: int) -> FlvResult:
    _need(body, 5, "enhanced video tag")
    frame_type, packet_type = (body[0] >> 4) & 0x07, body[0] & 0x0F
    fourcc = bytes(body[1:5])
    codec = _VIDEO_FOURCC.get(fourcc)
    if codec is None:
        return UnsupportedCodec(TrackKind.VIDEO, fourcc.decode("latin-1"))
    if frame_type == _COMMAND_FRAME:
        return Skipped(TrackKind.VIDEO, "video command frame")
    if packet_type == _SEQUENCE_START:
        return SequenceHeader(_video_track(codec, body[5:]))
    if packet_type == _CODED_FRAMES and codec in _WITH_CTO:
        _need(body, 8, f"{codec} coded frames")
        cto = int.from_bytes(body[5:8], "big", signed=True)
        return _video_frame(body[8:], timestamp, cto, frame_type)
    if packet_type in (_CODED_FRAMES, _CODED_FRAMES_X):
        return _video_frame(body[5:], timestamp, 0, frame_type)
    if packet_type == _SEQUENCE_END:
        return EndOfSequence(TrackKind.VIDEO)
    return Skipped(TrackKind.VIDEO, f"enhanced RTMP video packet type {packet_type}")


def _video_frame(data: bytes, timestamp: int, cto: int, frame_type: int) -> FlvResult:
    if not data:
        return Skipped(TrackKind.VIDEO, "empty video frame")
    return CodedFrame(MediaPacket(TrackKind.VIDEO, timestamp, timestamp + cto, data,
                                  frame_type == _KEYFRAME))


def _video_track(codec: str, config: bytes) -> TrackInfo:
    width = height = 0
    if codec == "h264":
        width, height = _avcc_dimensions(config)
    elif not config:
        raise FlvError(f"empty {codec} configuration record")
    return TrackInfo(TrackKind.VIDEO, codec, bytes(config), width=width, height=height)


def _avcc_dimensions(avcc: bytes) -> tuple[int, int]:
    """Validate an AVCDecoderConfigurationRecord; return the first SPS's size (0, 0 if odd)."""
    _need(avcc, 7, "AVC sequence header")
    if avcc[0] != 1:
        raise FlvError(f"AVC configuration version {avcc[0]}, expected 1")
    if avcc[5] & 0x1F == 0:
        return 0, 0
    sps_len = int.from_bytes(avcc[6:8], "big")
    if len(avcc) < 8 + sps_len:
        raise FlvError("AVC sequence header truncated inside its SPS")
    try:
        geometry = parse_h264_sps(avcc[8 : 8 + sps_len])
    except CodecConfigError:
        return 0, 0  # the size is informative; the decoder reads the SPS itself
    return geometry.width, geometry.height


# -- audio ------------------------------------------------------------------------------


def parse_audio(body: bytes, timestamp: int) -> FlvResult:
    """Parse an audio message body; `timestamp` is its (unwrapped) time in milliseconds."""
    _need(body, 1, "audio tag")
    sound_format = body[0] >> 4
    if sound_format == _AUDIO_EX_HEADER:
        return _enhanced_audio(body, timestamp)
    codec = _AUDIO_CODECS.get(sound_format, f"flv-audio-{sound_format}")
    if codec != "aac":
        return UnsupportedCodec(TrackKind.AUDIO, codec)
    _need(body, 2, "AAC audio tag")
    if body[1] == 0:
        return SequenceHeader(_aac_track(body[2:]))
    if body[1] == 1:
        return _audio_frame(body[2:], timestamp)
    raise FlvError(f"unknown AAC packet type {body[1]}")


def _enhanced_audio(body: bytes, timestamp: int) -> FlvResult:
    _need(body, 5, "enhanced audio tag")
    packet_type = body[0] & 0x0F
    fourcc = bytes(body[1:5])
    codec = _AUDIO_FOURCC.get(fourcc, fourcc.decode("latin-1"))
    if codec not in _SUPPORTED_AUDIO:
        return UnsupportedCodec(TrackKind.AUDIO, codec)
    if packet_type == _SEQUENCE_START:
        config = body[5:]
        return SequenceHeader(_aac_track(config) if codec == "aac" else _opus_track(config))
    if packet_type == _CODED_FRAMES:
        return _audio_frame(body[5:], timestamp)
    if packet_type == _SEQUENCE_END:
        return EndOfSequence(TrackKind.AUDIO)
    return Skipped(TrackKind.AUDIO, f"enhanced RTMP audio packet type {packet_type}")


def _audio_frame(data: bytes, timestamp: int) -> FlvResult:
    if not data:
        return Skipped(TrackKind.AUDIO, "empty audio frame")
    return CodedFrame(MediaPacket(TrackKind.AUDIO, timestamp, timestamp, data, True))


def _aac_track(config: bytes) -> TrackInfo:
    """Track from an AudioSpecificConfig (ISO 14496-3 1.6.2.1)."""
    _need(config, 2, "AAC sequence header")
    try:
        aac = parse_audio_specific_config(bytes(config))
    except CodecConfigError as exc:
        raise FlvError(f"AAC sequence header: {exc}") from exc
    return TrackInfo(TrackKind.AUDIO, "aac", bytes(config), sample_rate=aac.sample_rate,
                     channels=aac.channels)


def _opus_track(config: bytes) -> TrackInfo:
    """Track from an OpusHead (RFC 7845 5.1); Opus always runs at 48 kHz."""
    if len(config) < 19 or config[:8] != b"OpusHead":
        raise FlvError("Opus sequence header is not an OpusHead")
    return TrackInfo(TrackKind.AUDIO, "opus", bytes(config), sample_rate=48000, channels=config[9])


# -- aggregate messages -----------------------------------------------------------------


def split_aggregate(payload: bytes, timestamp: int) -> list[tuple[int, int, bytes]]:
    """Split an aggregate message (type 22) into (type id, timestamp, body) sub-messages.

    Each sub-message is an FLV tag (11-byte header, body, 4-byte back pointer); its time is
    relative to the first tag's, anchored at the aggregate message's own timestamp.
    """
    out: list[tuple[int, int, bytes]] = []
    pos = 0
    base: int | None = None
    while pos < len(payload):
        if pos + 11 > len(payload):
            raise FlvError("aggregate message truncated inside a tag header")
        size = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        tag_ts = int.from_bytes(payload[pos + 4 : pos + 7], "big") | payload[pos + 7] << 24
        body_end = pos + 11 + size
        if body_end + 4 > len(payload):
            raise FlvError("aggregate message truncated inside a tag")
        base = tag_ts if base is None else base
        out.append((payload[pos] & 0x1F, timestamp + tag_ts - base, payload[pos + 11 : body_end]))
        pos = body_end + 4
    return out
