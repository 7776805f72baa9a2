"""H.264 bitstream forms: Annex-B (RTP, x264) to AVCC with avcC extradata, and back.

WebRTC carries H.264 as NAL units that aiortc's depayloader joins with start codes (Annex-B),
with SPS/PPS sent in-band before each IDR. The pipeline wants MP4 form: 4-byte length-prefixed
NAL units and the parameter sets in an AVCDecoderConfigurationRecord. The WHEP relay needs the
opposite: Annex-B with the parameter sets in front of each keyframe. Pure functions only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Final

from courtcast.transcode.codecs import BitReader, CodecConfigError, unescape_rbsp

NAL_SLICE: Final = 1
NAL_IDR: Final = 5
NAL_SEI: Final = 6
NAL_SPS: Final = 7
NAL_PPS: Final = 8
NAL_AUD: Final = 9
_IN_CONFIG: Final = frozenset((NAL_SPS, NAL_PPS, NAL_AUD))  # not repeated in MP4 samples
_HIGH_PROFILES: Final = frozenset((100, 110, 122, 144))


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F if nal else 0


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte string (3- or 4-byte start codes)."""
    nals: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        end = data.find(b"\x00\x00\x01", begin)
        nal = data[begin:] if end < 0 else data[begin:end]
        nal = nal.rstrip(b"\x00") if end >= 0 else nal  # the next 4-byte code's leading zero
        if nal:
            nals.append(nal)
        start = end
    return nals


def to_avcc(nals: list[bytes]) -> bytes:
    return b"".join(len(nal).to_bytes(4, "big") + nal for nal in nals)


def split_avcc(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of a length-prefixed sample; raises ValueError if the lengths do not fit."""
    nals: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + length_size > len(data):
            raise ValueError("truncated NAL length prefix")
        size = int.from_bytes(data[pos:pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise ValueError("NAL unit length beyond the sample")
        nals.append(data[pos:pos + size])
        pos += size
    return nals


def to_annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


# --- avcC ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterSets:
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    length_size: int = 4


def _high_profile_extension(sps: bytes) -> bytes:
    """chroma_format/bit depth fields that avcC carries for High profiles (ISO 14496-15)."""
    reader = BitReader(unescape_rbsp(sps[4:]))
    reader.ue()  # seq_parameter_set_id
    chroma = reader.ue()
    if chroma == 3:
        reader.flag()  # separate_colour_plane_flag
    luma_depth, chroma_depth = reader.ue(), reader.ue()
    return bytes((0xFC | chroma, 0xF8 | luma_depth, 0xF8 | chroma_depth, 0))


def avc_config(sps: bytes, pps: bytes) -> bytes:
    """The AVCDecoderConfigurationRecord for one SPS and one PPS (4-byte NAL lengths)."""
    if len(sps) < 4 or nal_type(sps) != NAL_SPS or nal_type(pps) != NAL_PPS:
        raise ValueError("avcC needs an SPS of at least 4 bytes and a PPS")
    record = (bytes((1, sps[1], sps[2], sps[3], 0xFF, 0xE1)) + len(sps).to_bytes(2, "big") + sps
              + b"\x01" + len(pps).to_bytes(2, "big") + pps)
    if sps[1] in _HIGH_PROFILES:
        # The extension is optional for decoders: the record stays valid without it.
        with contextlib.suppress(CodecConfigError):
            record += _high_profile_extension(sps)
    return record


def parse_avc_config(extradata: bytes) -> ParameterSets:
    """SPS/PPS and NAL length size of an avcC record; raises ValueError if malformed."""
    if len(extradata) < 7 or extradata[0] != 1:
        raise ValueError("not an AVCDecoderConfigurationRecord")
    length_size = (extradata[4] & 0x03) + 1
    pos = 5
    sets: list[list[bytes]] = [[], []]
    for which in (0, 1):
        if pos >= len(extradata):
            raise ValueError("avcC ends before its parameter sets")
        count = extradata[pos] & (0x1F if which == 0 else 0xFF)
        pos += 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            pos += 2
            if pos + size > len(extradata):
                raise ValueError("avcC parameter set beyond the record")
            sets[which].append(extradata[pos:pos + size])
            pos += size
    return ParameterSets(tuple(sets[0]), tuple(sets[1]), length_size)


# --- access units ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessUnit:
    data: bytes  # AVCC, without SPS/PPS/AUD
    keyframe: bool
    config: bytes | None  # a new avcC when the parameter sets changed with this unit


class AnnexBToAvcc:
    """Converts a publisher's Annex-B access units; tracks the parameter sets in force."""

    def __init__(self) -> None:
        self._sps = b""
        self._pps = b""
        self.config = b""  # the avcC in force, b"" until a keyframe brought SPS and PPS

    def convert(self, annexb: bytes) -> AccessUnit | None:
        """None for units that carry no picture (parameter sets alone, empty data)."""
        nals = split_annexb(annexb)
        sps = next((n for n in nals if nal_type(n) == NAL_SPS), self._sps)
        pps = next((n for n in nals if nal_type(n) == NAL_PPS), self._pps)
        changed: bytes | None = None
        if sps and pps and (sps, pps) != (self._sps, self._pps):
            self._sps, self._pps = sps, pps
            self.config = changed = avc_config(sps, pps)
        pictures = [n for n in nals if nal_type(n) not in _IN_CONFIG]
        if not any(nal_type(n) in (NAL_SLICE, NAL_IDR) for n in pictures):
            return None
        keyframe = any(nal_type(n) == NAL_IDR for n in pictures)
        return AccessUnit(to_avcc(pictures), keyframe, changed)


def avcc_to_annexb(data: bytes, sets: ParameterSets, keyframe: bool) -> bytes:
    """One MP4 sample as Annex-B, with the parameter sets in front of a keyframe."""
    nals = split_avcc(data, sets.length_size)
    if keyframe:
        nals = [*sets.sps, *sets.pps, *(n for n in nals if nal_type(n) not in _IN_CONFIG)]
    return to_annexb(nals)
