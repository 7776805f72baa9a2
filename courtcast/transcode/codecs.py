"""Pure parsers of codec configuration records: RFC 6381 codec strings and picture geometry.

A master playlist must state CODECS (and should state RESOLUTION and FRAME-RATE) before a
player fetches anything; everything needed is in the extradata the publisher sent, so no
decoder is involved.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from courtcast.media import TrackInfo

AAC_SBR = 5  # audio object types that signal HE-AAC explicitly
AAC_PS = 29
AAC_SAMPLE_RATES = (
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
)  # fmt: skip


class CodecConfigError(ValueError):
    """Extradata too short or malformed for the codec it claims to configure."""


# --- bit reading -----------------------------------------------------------------------------


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00) from a NAL unit payload."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """MSB-first bit reader with Exp-Golomb codes, as used by H.264/H.265 parameter sets."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def bits(self, count: int) -> int:
        if count > self._left:
            raise CodecConfigError("parameter set ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def flag(self) -> bool:
        return self.bits(1) == 1

    def ue(self) -> int:
        zeros = 0
        while not self.bits(1):
            zeros += 1
            if zeros > 31:
                raise CodecConfigError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


# --- H.264 -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """The parts of an AVCDecoderConfigurationRecord (avcC) that matter here."""

    profile: int
    compatibility: int
    level: int
    nal_length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]

    @property
    def codec_string(self) -> str:
        return f"avc1.{self.profile:02X}{self.compatibility:02X}{self.level:02X}"


@dataclass(frozen=True, slots=True)
class VideoGeometry:
    width: int
    height: int
    frame_rate: float | None = None  # from VUI timing info, when the encoder wrote it


def parse_avcc(avcc: bytes) -> AvcConfig:
    if len(avcc) < 7 or avcc[0] != 1:
        raise CodecConfigError("not an AVCDecoderConfigurationRecord")
    pos = 6
    sps, pos = _length_prefixed(avcc, pos, avcc[5] & 0x1F)
    if pos >= len(avcc):
        raise CodecConfigError("avcC has no PPS count")
    pps, _ = _length_prefixed(avcc, pos + 1, avcc[pos])
    return AvcConfig(avcc[1], avcc[2], avcc[3], (avcc[4] & 3) + 1, sps, pps)


def _length_prefixed(data: bytes, pos: int, count: int) -> tuple[tuple[bytes, ...], int]:
    items = []
    for _ in range(count):
        size = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + size > len(data):
            raise CodecConfigError("parameter set runs past the end of the record")
        items.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return tuple(items), pos


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def parse_h264_sps(nal: bytes) -> VideoGeometry:
    """Width, height and frame rate from an H.264 SPS NAL unit (with its 1-byte header)."""
    r = BitReader(unescape_rbsp(nal[1:]))
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level_idc
    r.ue()  # seq_parameter_set_id
    chroma_format = 1
    if profile in _HIGH_PROFILES:
        chroma_format = r.ue()
        if chroma_format == 3:
            r.bits(1)  # separate_colour_plane_flag
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.bits(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if index < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bits(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.bits(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.bits(1)  # mb_adaptive_frame_field_flag
    r.bits(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_units * 16 * (2 - frame_mbs_only)
    if r.flag():  # frame_cropping_flag
        crop_x = 1 if chroma_format == 3 else 2 if chroma_format else 1
        crop_y = (2 - frame_mbs_only) * (2 if chroma_format == 1 else 1)
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    frame_rate = _vui_frame_rate(r) if r.flag() else None
    return VideoGeometry(width, height, frame_rate)


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + r.se() + 256) % 256
        last = following or last


def _vui_frame_rate(r: BitReader) -> float | None:
    try:
        if r.flag() and r.bits(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
            r.bits(32)
        if r.flag():  # overscan_info_present_flag
            r.bits(1)
        if r.flag():  # video_signal_type_present_flag
            r.bits(4)
            if r.flag():  # colour_description_present_flag
                r.bits(24)
        if r.flag():  # chroma_loc_info_present_flag
            r.ue()
            r.ue()
        if not r.flag():  # timing_info_present_flag
            return None
        units, scale = r.bits(32), r.bits(32)
    except CodecConfigError:
        return None  # truncated VUI: geometry is still good
    return round(scale / (2 * units), 3) if units and scale else None


def avc_geometry(avcc: bytes) -> VideoGeometry:
    config = parse_avcc(avcc)
    if not config.sps:
        raise CodecConfigError("avcC carries no SPS")
    return parse_h264_sps(config.sps[0])


# --- H.265 -----------------------------------------------------------------------------------


def hevc_codec_string(hvcc: bytes, tag: str = "hvc1") -> str:
    """ISO 14496-15 Annex E codec string, e.g. hvc1.1.6.L93.B0, from an hvcC record."""
    if len(hvcc) < 13 or hvcc[0] != 1:
        raise CodecConfigError("not an HEVCDecoderConfigurationRecord")
    space = "ABC"[(hvcc[1] >> 6) - 1] if hvcc[1] >> 6 else ""
    profile = hvcc[1] & 0x1F
    tier = "H" if hvcc[1] & 0x20 else "L"
    compat = int(f"{int.from_bytes(hvcc[2:6], 'big'):032b}"[::-1], 2)  # bits in reverse order
    constraints = list(hvcc[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [tag, f"{space}{profile}", f"{compat:X}", f"{tier}{hvcc[12]}"]
    parts += [f"{byte:X}" for byte in constraints]
    return ".".join(parts)


# --- AAC -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AacConfig:
    object_type: int  # 2 = AAC-LC, 5 = HE-AAC (SBR), 29 = HE-AACv2 (PS)
    sample_rate: int
    channels: int  # 0 when the channel configuration is in a program config element

    @property
    def codec_string(self) -> str:
        return f"mp4a.40.{self.object_type}"


def parse_audio_specific_config(asc: bytes) -> AacConfig:
    if len(asc) < 2:
        raise CodecConfigError("AudioSpecificConfig is shorter than 2 bytes")
    r = BitReader(asc)
    object_type = r.bits(5)
    if object_type == 31:
        object_type = 32 + r.bits(6)
    rate = _aac_sample_rate(r)
    channel_config = r.bits(4)
    channels = {7: 8}.get(channel_config, channel_config if channel_config < 7 else 0)
    if object_type in (AAC_SBR, AAC_PS):
        # Explicit HE-AAC signalling: decoders output at the extension (SBR) rate, and
        # parametric stereo turns a mono core into stereo. Some encoders cut the record
        # short after the core fields; the core rate then stands.
        with contextlib.suppress(CodecConfigError):
            rate = _aac_sample_rate(r)
        channels = 2 if object_type == AAC_PS and channels == 1 else channels
    return AacConfig(object_type, rate, channels)


def _aac_sample_rate(r: BitReader) -> int:
    index = r.bits(4)
    rate = r.bits(24) if index == 15 else AAC_SAMPLE_RATES[index] if index < 13 else 0
    if not rate:
        raise CodecConfigError(f"reserved AAC sampling frequency index {index}")
    return rate


# --- per track -------------------------------------------------------------------------------


def codec_string(track: TrackInfo) -> str:
    """RFC 6381 string for a playlist's CODECS attribute."""
    if track.codec == "h264":
        return parse_avcc(track.extradata).codec_string
    if track.codec == "hevc":
        return hevc_codec_string(track.extradata)
    if track.codec == "aac":
        if not track.extradata:
            return "mp4a.40.2"  # AAC-LC: what every RTMP encoder sends by default
        return parse_audio_specific_config(track.extradata).codec_string
    if track.codec == "opus":
        return "Opus"
    if track.codec == "mp3":
        return "mp4a.40.34"
    raise CodecConfigError(f"no codec string known for {track.codec!r}")


def video_geometry(track: TrackInfo) -> VideoGeometry | None:
    """What the publisher declared, completed from the SPS where it said nothing."""
    parsed: VideoGeometry | None = None
    if track.codec == "h264" and (not track.width or not track.frame_rate):
        try:
            parsed = avc_geometry(track.extradata)
        except CodecConfigError:
            parsed = None
    width = track.width or (parsed.width if parsed else 0)
    height = track.height or (parsed.height if parsed else 0)
    if not width or not height:
        return None
    rate = track.frame_rate or (parsed.frame_rate if parsed else None)
    return VideoGeometry(width, height, rate or None)
