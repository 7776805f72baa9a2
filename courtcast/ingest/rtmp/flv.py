"""FLV tag bodies, as carried by RTMP audio (8) and video (9) messages, into media values.

Supported: H.264 (legacy codec id 7 and Enhanced RTMP 'avc1'), HEVC (Enhanced RTMP 'hvc1' and
the widespread non-standard codec id 12), AV1 and VP9 FourCCs, AAC (legacy and 'mp4a') and Opus.
Anything else is reported as `UnsupportedCodec`, so the caller can tell the publisher's operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from courtcast.media import MediaPacket, TrackInfo, TrackKind

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
_AAC_RATES: Final = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000,
                     11025, 8000, 7350)

_AAC_SBR: Final = 5
_AAC_PS: Final = 29
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
    sps = avcc[8 : 8 + sps_len]
    if len(sps) != sps_len:
        raise FlvError("AVC sequence header truncated inside its SPS")
    try:
        return sps_dimensions(sps)
    except _BitsExhausted:
        return 0, 0


# -- H.264 SPS --------------------------------------------------------------------------


class _BitsExhausted(Exception):
    pass


class _Bits:
    """Big-endian bit reader over an RBSP (small: parameter sets only, never frames)."""

    __slots__ = ("_left", "_value")

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self._left:
            raise _BitsExhausted
        self._left -= n
        return (self._value >> self._left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise _BitsExhausted
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


_HIGH_PROFILES: Final = frozenset((100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135))


def _skip_scaling_lists(bits: _Bits, count: int) -> None:
    for i in range(count):
        if not bits.u(1):
            continue
        last = nxt = 8
        for _ in range(16 if i < 6 else 64):
            if nxt:
                nxt = (last + bits.se() + 256) % 256
            last = nxt or last


def sps_dimensions(sps: bytes) -> tuple[int, int]:
    """Display width and height from an H.264 SPS NAL unit (header byte included)."""
    bits = _Bits(sps[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    separate_planes = 0
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):
            _skip_scaling_lists(bits, 12 if chroma_format == 3 else 8)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width = (bits.ue() + 1) * 16
    map_height = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    height = (2 - frame_mbs_only) * map_height * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        chroma_type = 0 if separate_planes else chroma_format
        unit_x = 2 if chroma_type in (1, 2) else 1
        unit_y = (2 if chroma_type == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * unit_x
        height -= (top + bottom) * unit_y
    return max(width, 0), max(height, 0)


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
    bits = _Bits(config[:8])
    try:
        object_type = bits.u(5)
        if object_type == 31:
            object_type = 32 + bits.u(6)
        rate = _aac_rate(bits)
        channels = bits.u(4)
        if object_type in (_AAC_SBR, _AAC_PS):  # HE-AAC: the output runs at the SBR rate
            rate = _aac_rate(bits)
            channels = 2 if object_type == _AAC_PS and channels == 1 else channels
    except _BitsExhausted as exc:
        raise FlvError("AAC sequence header truncated") from exc
    return TrackInfo(TrackKind.AUDIO, "aac", bytes(config), sample_rate=rate, channels=channels)


def _aac_rate(bits: _Bits) -> int:
    index = bits.u(4)
    if index == 15:
        return bits.u(24)
    if index >= len(_AAC_RATES):
        raise FlvError(f"AAC sequence header has a reserved sampling frequency index {index}")
    return _AAC_RATES[index]


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
