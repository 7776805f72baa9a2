"""Encoders: Annex B repackaged as AVCC, keyframes only where asked."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from courtcast.transcode.codecs import parse_audio_specific_config, parse_avcc
from courtcast.transcode.encoders import (
    AudioEncoder,
    EncoderSettings,
    VideoEncoder,
    annexb_to_avcc,
    avcc_record,
    split_annexb,
)
from courtcast.transcode.ladder import BROWSER_H264_PROFILES, VideoTarget

SPS = bytes([0x67, 0x64, 0x00, 0x1F, 0xAC])
PPS = bytes([0x68, 0xEE, 0x3C, 0x80])


def test_split_annexb_with_both_start_codes() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x01\x65\x88"
    assert list(split_annexb(data)) == [SPS, PPS, b"\x65\x88"]
    assert annexb_to_avcc(b"\x00\x00\x01\x65\x88") == b"\x00\x00\x00\x02\x65\x88"


def test_avcc_record_from_parameter_sets() -> None:
    config = parse_avcc(avcc_record(b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS))
    assert (config.sps, config.pps, config.nal_length_size) == ((SPS,), (PPS,), 4)
    assert config.codec_string == "avc1.64001F"
    with pytest.raises(ValueError, match="SPS or PPS"):
        avcc_record(b"\x00\x00\x01" + PPS)


def test_keyframes_only_where_forced() -> None:
    encoder = VideoEncoder(VideoTarget(160, 90, 100_000), 25.0, EncoderSettings("ultrafast"))
    assert encoder.track.width == 160
    assert parse_avcc(encoder.track.extradata).profile in BROWSER_H264_PROFILES
    packets = []
    for index in range(60):
        frame = av.VideoFrame(160, 90, "yuv420p")
        packets += encoder.encode(frame, index * 3600, keyframe=index in (0, 37))
    packets += encoder.flush()
    assert len(packets) == 60
    assert [p.pts // 3600 for p in packets if p.keyframe] == [0, 37]
    assert all(p.dts == p.pts and p.time_base == Fraction(1, 90000) for p in packets)
    first = packets[0].data
    assert int.from_bytes(first[:4], "big") + 4 <= len(first)  # length-prefixed NAL units


def test_audio_encoder_declares_its_config() -> None:
    encoder = AudioEncoder(48000, 1, 96_000)
    config = parse_audio_specific_config(encoder.track.extradata)
    assert (config.object_type, config.sample_rate, config.channels) == (2, 48000, 1)
    assert encoder.track.bit_rate == 64_000  # mono gets two thirds
    assert encoder.flush() == []
