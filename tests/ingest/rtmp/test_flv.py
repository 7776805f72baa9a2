from __future__ import annotations

import contextlib
import random
import struct

import pytest

from courtcast.ingest.rtmp.flv import (
    CodedFrame,
    EndOfSequence,
    FlvError,
    SequenceHeader,
    Skipped,
    UnsupportedCodec,
    parse_audio,
    parse_video,
    split_aggregate,
)
from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.codecs import parse_h264_sps

# avcC records produced by libx264 (ffmpeg 5.1) for the given sizes and profiles.
AVCC_640x360_HIGH = bytes.fromhex(
    "0164001effe1001a6764001eacd940a02ff97011000003000100000300320f162d9601000668ebe3cb22c0fdf8f800")
AVCC_CASES = [
    (AVCC_640x360_HIGH, (640, 360)),
    ("01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8"
     "f800", (1920, 1080)),
    ("0142c00bffe100166742c00bd902c4ec0440000003004000000c83c50a9201000568cb83cb20", (176, 144)),
    ("014d401fffe10019674d401feca02802dd80880000030008000003019078c18cb001000568ebe3cb20",
     (1280, 720)),
    ("01f4000dffe1001967f4000d919b28283f6022000003000200000300641e28532c01000868ebe3c44c000440fff8"
     "f800", (320, 240)),  # High 4:4:4
    ("0164001effe100186764001eacd940b424d8088000000300800000190f8a14cb01000668fba3cb22c0fdf8f800",
     (720, 576)),  # interlaced
    ("017a0020ffe1001b677a0020bcd94056061e6f011000000300100000030320f183196001000668ebe3cb22c0fef8"
     "f800", (1366, 768)),  # High 4:2:2
]
HVCC = bytes.fromhex("01016000000090000000000078f000fcfdf8f800000f03")  # header of an hvcC
OPUS_HEAD = b"OpusHead" + bytes((1, 2)) + struct.pack("<HIhB", 312, 48000, 0, 0)


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> BitWriter:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        self.u(1, 1)
        while len(self.bits) % 8:
            self.bits.append(0)
        raw = bytes(int("".join(map(str, self.bits[i : i + 8])), 2)
                    for i in range(0, len(self.bits), 8))
        out = bytearray()
        for byte in raw:  # emulation prevention, as an encoder must insert it
            if len(out) >= 2 and out[-1] == 0 and out[-2] == 0 and byte <= 3:
                out.append(3)
            out.append(byte)
        return bytes(out)


# -- H.264 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("avcc", "size"), AVCC_CASES)
def test_avc_sequence_header_from_libx264(avcc: str | bytes, size: tuple[int, int]) -> None:
    record = bytes.fromhex(avcc) if isinstance(avcc, str) else avcc
    result = parse_video(b"\x17\x00\x00\x00\x00" + record, 0)
    assert result == SequenceHeader(
        TrackInfo(TrackKind.VIDEO, "h264", record, width=size[0], height=size[1]))


def test_sps_with_scaling_lists_and_cropping() -> None:
    bits = BitWriter().u(8, 100).u(8, 0).u(8, 31).ue(0)  # High profile, sps id 0
    bits.ue(1).ue(0).ue(0).u(1, 0).u(1, 1)  # 4:2:0, 8 bit, scaling matrix present
    bits.u(1, 1)
    for _ in range(16):
        bits.se(1)  # list 0 read in full
    bits.u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(1, 0)
    bits.u(1, 1).se(-8)  # list 6: delta to 0 stops the list early
    bits.u(1, 0)
    bits.ue(0).ue(0).ue(2).ue(1).u(1, 0)  # frame num, poc type 0, lsb, refs, gaps
    bits.ue(79).ue(44).u(1, 1).u(1, 1)  # 1280 x 720, frames only, direct 8x8
    bits.u(1, 1).ue(0).ue(0).ue(0).ue(4)  # crop 8 lines at the bottom
    bits.u(1, 0)  # no VUI
    geometry = parse_h264_sps(b"\x67" + bits.rbsp())
    assert (geometry.width, geometry.height) == (1280, 712)


def test_sps_with_poc_type_1() -> None:
    bits = BitWriter().u(8, 66).u(8, 0).u(8, 30).ue(0)
    bits.ue(0).ue(1).u(1, 0).se(-2).se(3).ue(2).se(1).se(-1)
    bits.ue(1).u(1, 0).ue(19).ue(14).u(1, 0).u(1, 0).u(1, 0).u(1, 0)  # field coding, no crop
    geometry = parse_h264_sps(b"\x67" + bits.rbsp())
    assert (geometry.width, geometry.height) == (320, 480)


def test_unparseable_sps_gives_zero_size_not_an_error() -> None:
    record = bytes.fromhex("0164001effe10002" "6764" "01000468ebe3cb")
    result = parse_video(b"\x17\x00\x00\x00\x00" + record, 0)
    assert isinstance(result, SequenceHeader)
    assert (result.track.width, result.track.height) == (0, 0)


def test_avc_keyframe_with_composition_offset() -> None:
    nalus = b"\x00\x00\x00\x02\x65\x88"
    result = parse_video(b"\x17\x01\x00\x00\x50" + nalus, 1000)
    assert result == CodedFrame(MediaPacket(TrackKind.VIDEO, 1000, 1080, nalus, True))


def test_avc_inter_frame_with_negative_composition_offset() -> None:
    result = parse_video(b"\x27\x01\xff\xff\xd8" + b"\x00\x00\x00\x01\x41", 2000)
    assert isinstance(result, CodedFrame)
    assert (result.packet.dts, result.packet.pts, result.packet.keyframe) == (2000, 1960, False)


def test_avc_end_of_sequence_command_frames_and_empty_frames() -> None:
    assert parse_video(b"\x17\x02\x00\x00\x00", 0) == EndOfSequence(TrackKind.VIDEO)
    assert isinstance(parse_video(b"\x57\x01\x00\x00\x00", 0), Skipped)
    assert isinstance(parse_video(b"\x17\x01\x00\x00\x00", 0), Skipped)


@pytest.mark.parametrize(("first", "codec"), [(0x12, "flv1"), (0x14, "vp6f"), (0x13, "flashsv"),
                                              (0x1F, "flv-video-15")])
def test_legacy_video_codecs_are_reported_unsupported(first: int, codec: str) -> None:
    assert parse_video(bytes((first,)) + b"data", 0) == UnsupportedCodec(TrackKind.VIDEO, codec)


def test_legacy_codec_id_12_is_hevc() -> None:
    result = parse_video(b"\x1c\x00\x00\x00\x00" + HVCC, 0)
    assert isinstance(result, SequenceHeader) and result.track.codec == "hevc"
    frame = parse_video(b"\x1c\x01\x00\x00\x28" + b"\x00\x00\x00\x01\x26", 40)
    assert isinstance(frame, CodedFrame) and frame.packet.pts == 80 and frame.packet.keyframe


# -- Enhanced RTMP ----------------------------------------------------------------------


def test_enhanced_hevc_sequence_start_and_frames() -> None:
    header = parse_video(b"\x90hvc1" + HVCC, 0)
    assert header == SequenceHeader(TrackInfo(TrackKind.VIDEO, "hevc", HVCC))
    coded = parse_video(b"\x91hvc1\x00\x00\x28" + b"frame", 100)
    assert coded == CodedFrame(MediaPacket(TrackKind.VIDEO, 100, 140, b"frame", True))
    coded_x = parse_video(b"\xa3hvc1" + b"frame", 120)
    assert coded_x == CodedFrame(MediaPacket(TrackKind.VIDEO, 120, 120, b"frame", False))
    assert parse_video(b"\x92hvc1", 0) == EndOfSequence(TrackKind.VIDEO)


def test_enhanced_av1_frames_have_no_composition_offset() -> None:
    result = parse_video(b"\x91av01" + b"\x12\x00\x0a", 5)
    assert result == CodedFrame(MediaPacket(TrackKind.VIDEO, 5, 5, b"\x12\x00\x0a", True))


def test_enhanced_other_packet_types_and_fourccs() -> None:
    assert isinstance(parse_video(b"\x94hvc1" + b"\x02\x00\x09colorInfo", 0), Skipped)
    assert isinstance(parse_video(b"\xd0hvc1", 0), Skipped)  # command frame
    assert parse_video(b"\x90xvid", 0) == UnsupportedCodec(TrackKind.VIDEO, "xvid")


# -- audio ------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "rate", "channels"),
                         [("1210", 44100, 2), ("1190", 48000, 2), ("1408", 16000, 1),
                          ("2b8a0800", 44100, 1),  # HE-AAC: 22.05 kHz core, 44.1 kHz SBR
                          ("eb0988", 48000, 2)])  # HE-AACv2: parametric stereo from mono
def test_aac_sequence_header(config: str, rate: int, channels: int) -> None:
    asc = bytes.fromhex(config)
    result = parse_audio(b"\xaf\x00" + asc, 0)
    assert result == SequenceHeader(
        TrackInfo(TrackKind.AUDIO, "aac", asc, sample_rate=rate, channels=channels))


def test_aac_explicit_frequency_and_escaped_object_type() -> None:
    explicit = bytes(BitWriter().u(5, 2).u(4, 15).u(24, 22050).u(4, 1).u(2, 0).rbsp()[:5])
    result = parse_audio(b"\xaf\x00" + explicit, 0)
    assert isinstance(result, SequenceHeader) and result.track.sample_rate == 22050
    escaped = bytes(BitWriter().u(5, 31).u(6, 10).u(4, 3).u(4, 2).rbsp())
    result = parse_audio(b"\xaf\x00" + escaped, 0)
    assert isinstance(result, SequenceHeader) and result.track.sample_rate == 48000


def test_raw_aac_frame() -> None:
    result = parse_audio(b"\xaf\x01\x21\x10\x05", 23)
    assert result == CodedFrame(MediaPacket(TrackKind.AUDIO, 23, 23, b"\x21\x10\x05", True))
    assert isinstance(parse_audio(b"\xaf\x01", 23), Skipped)


@pytest.mark.parametrize(("first", "codec"),
                         [(0x2F, "mp3"), (0xB6, "speex"), (0x6E, "nellymoser"), (0x72, "pcm_alaw"),
                          (0xE2, "mp3"), (0x3E, "pcm_s16le"), (0xCF, "flv-audio-12")])
def test_legacy_audio_codecs_are_reported_unsupported(first: int, codec: str) -> None:
    assert parse_audio(bytes((first,)) + b"data", 0) == UnsupportedCodec(TrackKind.AUDIO, codec)


def test_enhanced_audio() -> None:
    opus = parse_audio(b"\x90Opus" + OPUS_HEAD, 0)
    assert opus == SequenceHeader(
        TrackInfo(TrackKind.AUDIO, "opus", OPUS_HEAD, sample_rate=48000, channels=2))
    assert parse_audio(b"\x91Opus\xfc\x01", 20) == CodedFrame(
        MediaPacket(TrackKind.AUDIO, 20, 20, b"\xfc\x01", True))
    aac = parse_audio(b"\x90mp4a\x12\x10", 0)
    assert isinstance(aac, SequenceHeader) and aac.track.codec == "aac"
    assert parse_audio(b"\x90.mp3", 0) == UnsupportedCodec(TrackKind.AUDIO, "mp3")
    assert parse_audio(b"\x90fLaC", 0) == UnsupportedCodec(TrackKind.AUDIO, "flac")
    assert parse_audio(b"\x92Opus", 0) == EndOfSequence(TrackKind.AUDIO)
    assert isinstance(parse_audio(b"\x94Opus\x00", 0), Skipped)


# -- malformed bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"\x17", b"\x17\x00\x00", b"\x17\x00\x00\x00\x00\x01\x64",  # too short
     b"\x17\x00\x00\x00\x00" + b"\x02" + AVCC_640x360_HIGH[1:],  # avcC version 2
     b"\x17\x00\x00\x00\x00" + AVCC_640x360_HIGH[:20],  # truncated inside the SPS
     b"\x17\x05\x00\x00\x00",  # unknown AVC packet type
     b"\x90hvc1", b"\x91hvc1\x00", b"\x90hv"],  # empty hvcC, truncated CTO, short FourCC
)
def test_malformed_video_raises_flv_error(body: bytes) -> None:
    with pytest.raises(FlvError):
        parse_video(body, 0)


@pytest.mark.parametrize(
    "body",
    [b"", b"\xaf", b"\xaf\x00\x12", b"\xaf\x00\x16\x90",  # short; reserved frequency index 13
     b"\xaf\x02\x00", b"\x90Opus", b"\x90Opus" + b"NotOpus" * 3, b"\x90mp"],
)
def test_malformed_audio_raises_flv_error(body: bytes) -> None:
    with pytest.raises(FlvError):
        parse_audio(body, 0)


# -- aggregate messages -----------------------------------------------------------------


def flv_tag(type_id: int, timestamp: int, body: bytes) -> bytes:
    header = (bytes((type_id,)) + len(body).to_bytes(3, "big")
              + (timestamp & 0xFFFFFF).to_bytes(3, "big") + bytes((timestamp >> 24,)) + bytes(3))
    return header + body + (11 + len(body)).to_bytes(4, "big")


def test_split_aggregate_rebases_timestamps() -> None:
    payload = flv_tag(9, 5000, b"\x17\x01\x00\x00\x00v") + flv_tag(8, 5023, b"\xaf\x01a")
    assert split_aggregate(payload, 100) == [(9, 100, b"\x17\x01\x00\x00\x00v"),
                                             (8, 123, b"\xaf\x01a")]
    with pytest.raises(FlvError):
        split_aggregate(payload[:-3], 0)
    with pytest.raises(FlvError):
        split_aggregate(payload[:5], 0)


def test_fuzz_random_bodies_only_raise_flv_error() -> None:
    rng = random.Random(8)
    firsts = [0x17, 0x27, 0x1C, 0x90, 0x91, 0xA3, 0xAF, 0x2F, 0x9F]
    for _ in range(3000):
        body = bytes((rng.choice(firsts),)) + rng.randbytes(rng.randrange(0, 40))
        if rng.random() < 0.3:
            body = body[:1] + b"\x00" + b"\x00\x00\x00" + b"\x01" + body[6:]
        for parse in (parse_video, parse_audio):
            with contextlib.suppress(FlvError):
                parse(body, 0)
        with contextlib.suppress(FlvError):
            split_aggregate(body, 0)
