from __future__ import annotations

from dataclasses import replace

import pytest

from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.codecs import (
    BitReader,
    CodecConfigError,
    VideoGeometry,
    avc_geometry,
    codec_string,
    hevc_codec_string,
    parse_audio_specific_config,
    parse_avcc,
    unescape_rbsp,
    video_geometry,
)
from tests.transcode.clips import Clip

# avcC records written by libx264 (ffmpeg 5.1), one per SPS feature the parser must get past.
AVCC = {
    # High, 1088 coded lines cropped to 1080, VUI timing
    "1080p-high": "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c60c658"
    "01000668ebe3cb22c0fdf8f800",
    # Constrained Baseline: no chroma/bit-depth fields
    "qcif-baseline": "0142c00bffe100166742c00bd902c4ec0440000003004000000f03c50a9201000568cb83cb20",
    # High 4:4:4 Predictive: chroma_format_idc 3, different crop units
    "444": "01f4000dffe1001967f4000d919b28283f6022000003000200000300781e28532c01000668eb"
    "e3c44844fff8f800",
    # Main, interlaced: frame_mbs_only_flag 0, heights counted in field macroblock pairs
    "interlaced": "014d401effe10018674d401eeca0503db0110000030001000003003c1f1429960100"
    "0568fba3cb20",
}
# hvcC header of a libx265 Main-profile stream (level 2, progressive, frame-only)
HVCC = bytes.fromhex("0101600000009000000000003cf000fcfdf8f800000f04")


@pytest.mark.parametrize(
    ("name", "codec", "geometry"),
    [
        ("1080p-high", "avc1.640028", VideoGeometry(1920, 1080, 30.0)),
        ("qcif-baseline", "avc1.42C00B", VideoGeometry(176, 144, 30.0)),
        ("444", "avc1.F4000D", VideoGeometry(320, 240, 30.0)),
        ("interlaced", "avc1.4D401E", VideoGeometry(640, 480, 30.0)),
    ],
)
def test_avc_codec_string_and_geometry(name: str, codec: str, geometry: VideoGeometry) -> None:
    avcc = bytes.fromhex(AVCC[name])
    config = parse_avcc(avcc)
    assert config.codec_string == codec
    assert config.nal_length_size == 4 and len(config.sps) == len(config.pps) == 1
    assert avc_geometry(avcc) == geometry


def test_real_publisher_track(clip: Clip) -> None:
    video = clip.track(TrackKind.VIDEO)
    audio = clip.track(TrackKind.AUDIO)
    assert codec_string(video) == "avc1.64001E"
    assert video_geometry(video) == VideoGeometry(640, 360, 25.0)
    assert codec_string(audio) == "mp4a.40.2"
    config = parse_audio_specific_config(audio.extradata)
    assert (config.sample_rate, config.channels) == (44100, 1)


def test_declared_values_win_over_the_sps(clip: Clip) -> None:
    video = replace(clip.track(TrackKind.VIDEO), width=1280, height=720, frame_rate=29.97)
    assert video_geometry(video) == VideoGeometry(1280, 720, 29.97)
    assert video_geometry(TrackInfo(TrackKind.VIDEO, "vp8")) is None


@pytest.mark.parametrize(
    ("asc", "expected"),
    [
        ("1210", (2, 44100, 2)),  # AAC-LC stereo
        ("1188", (2, 48000, 1)),  # AAC-LC mono 48 kHz
        ("2b10", (5, 24000, 2)),  # HE-AAC (SBR), record cut short: the core rate stands
        ("2b920800", (5, 44100, 2)),  # HE-AAC, explicit: 22.05 kHz core, output at 44.1
        ("eb098800", (29, 48000, 2)),  # HE-AACv2: parametric stereo makes mono stereo
        ("f86000", (35, 96000, 0)),  # escaped object type, channels in a PCE
        ("17802b1108", (2, 22050, 1)),  # explicit sampling frequency (index 15)
    ],
)
def test_audio_specific_config(asc: str, expected: tuple[int, int, int]) -> None:
    config = parse_audio_specific_config(bytes.fromhex(asc))
    assert (config.object_type, config.sample_rate, config.channels) == expected
    assert config.codec_string == f"mp4a.40.{expected[0]}"


def test_hevc_codec_string() -> None:
    assert hevc_codec_string(HVCC) == "hvc1.1.6.L60.90"
    high_tier = bytes([1, 0x22, 0x20, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 153]) + bytes(10)
    assert hevc_codec_string(high_tier, "hev1") == "hev1.2.4.H153.B0"
    assert codec_string(TrackInfo(TrackKind.VIDEO, "hevc", HVCC)) == "hvc1.1.6.L60.90"


def test_other_codecs() -> None:
    assert codec_string(TrackInfo(TrackKind.AUDIO, "opus")) == "Opus"
    assert codec_string(TrackInfo(TrackKind.AUDIO, "aac")) == "mp4a.40.2"
    with pytest.raises(CodecConfigError):
        codec_string(TrackInfo(TrackKind.VIDEO, "vp8"))


@pytest.mark.parametrize(
    "bad",
    ["", "01", "00640028ffe1", "01640028ffe1001b6764"],  # empty, short, version 0, cut SPS
)
def test_malformed_avcc_is_refused(bad: str) -> None:
    with pytest.raises(CodecConfigError):
        parse_avcc(bytes.fromhex(bad))


def test_truncated_sps_and_asc_are_refused() -> None:
    sps = parse_avcc(bytes.fromhex(AVCC["1080p-high"])).sps[0]
    with pytest.raises(CodecConfigError):
        avc_geometry(bytes.fromhex("01640028ffe10004") + sps[:4] + b"\x01\x00\x00")
    with pytest.raises(CodecConfigError):
        parse_audio_specific_config(b"\x12")
    with pytest.raises(CodecConfigError):
        parse_audio_specific_config(bytes.fromhex("1688"))  # reserved frequency index 13
    assert video_geometry(TrackInfo(TrackKind.VIDEO, "h264", b"\x01\x64")) is None


def test_emulation_prevention_is_removed() -> None:
    assert unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x03"
    assert unescape_rbsp(b"\x01\x02") == b"\x01\x02"


def test_exp_golomb() -> None:
    # ue: 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3; se: 00101 (ue 4) -> -2
    reader = BitReader(bytes([0b1_010_011_0, 0b0100_0010, 0b1_0000000]))
    assert [reader.ue(), reader.ue(), reader.ue(), reader.ue(), reader.se()] == [0, 1, 2, 3, -2]
    with pytest.raises(CodecConfigError):
        BitReader(b"\x00").ue()
