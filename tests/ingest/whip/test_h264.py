from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from courtcast.ingest.whip import h264
from courtcast.ingest.whip.h264 import AnnexBToAvcc, ParameterSets

SPS = bytes.fromhex("6742c01e8c8d40a0fd0f0088")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes.fromhex("6588840021")
SLICE = bytes.fromhex("419a0203")


def x264_units(profile: str, frames: int = 6) -> list[bytes]:
    """Annex-B access units from libx264, SPS/PPS in front of the IDR (as WebRTC sends them)."""
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 64, 48, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    # ultrafast uses no High tools, so x264 would signal Baseline even when asked for High.
    preset = "ultrafast" if profile == "baseline" else "veryfast"
    encoder.options = {"preset": preset, "tune": "zerolatency", "profile": profile}
    units = []
    for index in range(frames):
        frame = av.VideoFrame(64, 48, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([index * 20 % 256]) * plane.buffer_size)
        frame.pts = index
        units += [bytes(packet) for packet in encoder.encode(frame)]
    return units + [bytes(packet) for packet in encoder.encode(None)]


def ffmpeg_avcc(units: list[bytes], tmp_path: Path) -> bytes:
    """The avcC the ffmpeg CLI writes when it copies these units into MP4."""
    source, target = tmp_path / "in.h264", tmp_path / "out.mp4"
    source.write_bytes(b"".join(units))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c", "copy", str(target)],
                   check=True, timeout=60)
    with av.open(str(target)) as container:
        extradata = container.streams.video[0].codec_context.extradata
        assert extradata is not None
        return bytes(extradata)


def test_split_annexb_handles_both_start_codes_and_trailing_zeros() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x00\x01" + IDR
    assert h264.split_annexb(data) == [SPS, PPS, IDR]
    assert h264.split_annexb(b"no start code") == []


def test_avcc_round_trip_and_malformed_samples() -> None:
    sample = h264.to_avcc([IDR, SLICE])
    assert h264.split_avcc(sample) == [IDR, SLICE]
    for broken in (sample[:-1], sample[:3], b"\x00\x00\x00\x00"):
        with pytest.raises(ValueError):
            h264.split_avcc(broken)


@pytest.mark.parametrize("profile", ["baseline", "high"])
def test_avc_config_matches_what_ffmpeg_writes(profile: str, tmp_path: Path) -> None:
    units = x264_units(profile)
    nals = h264.split_annexb(units[0])
    sps = next(n for n in nals if h264.nal_type(n) == h264.NAL_SPS)
    pps = next(n for n in nals if h264.nal_type(n) == h264.NAL_PPS)
    ours = h264.avc_config(sps, pps)
    assert ours[1] == (0x42 if profile == "baseline" else 0x64)
    assert ours == ffmpeg_avcc(units, tmp_path)
    assert h264.parse_avc_config(ours) == ParameterSets((sps,), (pps,), 4)


def test_avc_config_needs_parameter_sets() -> None:
    with pytest.raises(ValueError):
        h264.avc_config(PPS, SPS)
    for broken in (b"", b"\x02" * 8, h264.avc_config(SPS, PPS)[:-2]):
        with pytest.raises(ValueError):
            h264.parse_avc_config(broken)


def test_converter_tracks_parameter_sets_and_strips_them_from_samples() -> None:
    converter = AnnexBToAvcc()
    aud = b"\x09\xf0"
    first = converter.convert(h264.to_annexb([aud, SPS, PPS, IDR]))
    assert first is not None and first.keyframe
    assert first.config == h264.avc_config(SPS, PPS) == converter.config
    assert h264.split_avcc(first.data) == [IDR]
    later = converter.convert(h264.to_annexb([SLICE]))
    assert later is not None and not later.keyframe and later.config is None
    assert converter.convert(h264.to_annexb([SPS, PPS])) is None  # no picture
    assert converter.convert(b"") is None
    new_sps = SPS[:-1] + b"\x89"
    changed = converter.convert(h264.to_annexb([new_sps, PPS, IDR]))
    assert changed is not None and changed.config == h264.avc_config(new_sps, PPS)


def test_samples_decode_with_the_built_configuration() -> None:
    """What the pipeline gets from a WebRTC H.264 stream is decodable as MP4 H.264."""
    converter = AnnexBToAvcc()
    samples = [unit for unit in map(converter.convert, x264_units("baseline", 10)) if unit]
    decoder: Any = av.CodecContext.create("h264", "r")
    decoder.extradata = converter.config
    frames = [f for s in samples for f in decoder.decode(av.Packet(s.data))]
    frames += decoder.decode(None)
    assert len(frames) == 10 and samples[0].keyframe


def test_back_to_annexb_with_parameter_sets_before_keyframes() -> None:
    sets = ParameterSets((SPS,), (PPS,), 4)
    key = h264.avcc_to_annexb(h264.to_avcc([SPS, IDR]), sets, keyframe=True)
    assert h264.split_annexb(key) == [SPS, PPS, IDR]
    delta = h264.avcc_to_annexb(h264.to_avcc([SLICE]), sets, keyframe=False)
    assert h264.split_annexb(delta) == [SLICE]
    short = ParameterSets((SPS,), (PPS,), 2)
    assert h264.split_annexb(h264.avcc_to_annexb(b"\x00\x04" + SLICE, short, False)) == [SLICE]
