from __future__ import annotations

import contextlib
import random
from dataclasses import replace
from typing import Any

import av
import numpy as np
import pytest

from courtcast.ingest.whip import vp9
from courtcast.ingest.whip.vp9 import (
    Descriptor,
    GroupPicture,
    LayerIndices,
    Scalability,
    Vp9Error,
)

from .vp9_rtp import Frames, libvpx_frames, packetize, write_descriptor


def decoded(frames: list[bytes]) -> list[Any]:
    decoder: Any = av.CodecContext.create("vp9", "r")
    out = [f for data in frames for f in decoder.decode(av.Packet(data))]
    return [f.to_ndarray() for f in out + list(decoder.decode(None))]


def rtp_pictures(frames: Frames, *, split: bool = False, **options: Any) -> list[list[bytes]]:
    """Each frame's payloads; `split`: a superframe's frames as layer frames of their own."""
    return [packetize(vp9.split_superframe(data) if split else [data], 1000 + n, keyframe=key,
                      **options)
            for n, (data, key) in enumerate(frames)]


# --- the payload descriptor --------------------------------------------------------------------


def test_a_descriptor_as_rfc_9628_lays_it_out() -> None:
    payload = bytes.fromhex("ae" "9234" "5307" "38" "014000b4" "02800168" "01" "04" "01") + b"VP9"
    d = vp9.parse_descriptor(payload)
    assert (d.picture_id, d.begins_frame, d.ends_frame, d.inter_predicted) == (0x1234, True,
                                                                              True, False)
    assert d.layer == LayerIndices(2, True, 1, True, tl0_pic_idx=7)
    assert d.scalability == Scalability(2, ((320, 180), (640, 360)),
                                        (GroupPicture(0, False, (1,)),))
    assert payload[d.size:] == b"VP9"
    flexible = vp9.parse_descriptor(bytes.fromhex("f9" "05" "23" "03" "05" "08") + b"x")
    assert (flexible.flexible, flexible.picture_id, flexible.references) == (True, 5, (1, 2, 4))
    assert flexible.layer == LayerIndices(1, False, 1, True, None)
    assert flexible.not_upper_reference and flexible.size == 6


DESCRIPTORS = [
    Descriptor(False, False, True, True, False),
    Descriptor(True, False, False, False, False, picture_id=0x7FFF,
               layer=LayerIndices(3, True, 2, True, 255)),
    Descriptor(False, False, True, False, True, picture_id=1,
               layer=LayerIndices(0, False, 0, False, 0),
               scalability=Scalability(3, ((160, 90), (320, 180), (640, 360)),
                                       (GroupPicture(0, False, (4,)), GroupPicture(2, True, (1,)),
                                        GroupPicture(1, True, (1, 2, 3))))),
    Descriptor(True, True, False, True, False, picture_id=300,
               layer=LayerIndices(1, False, 0, False), references=(1, 3, 127)),
    Descriptor(False, True, True, True, False, picture_id=9,
               scalability=Scalability(1, (), ())),
]


@pytest.mark.parametrize("descriptor", DESCRIPTORS)
def test_descriptors_round_trip_and_every_truncation_raises(descriptor: Descriptor) -> None:
    for long_id in (True, False):
        if descriptor.picture_id is not None and descriptor.picture_id > 0x7F and not long_id:
            continue
        data = write_descriptor(descriptor, long_id=long_id)
        assert vp9.parse_descriptor(data + b"\x82") == replace(descriptor, size=len(data))
        for cut in range(len(data)):
            with pytest.raises(Vp9Error, match="ends before"):
                vp9.parse_descriptor(data[:cut])


def test_more_than_three_references_are_malformed() -> None:
    with pytest.raises(Vp9Error, match="more than 3"):
        vp9.parse_descriptor(bytes.fromhex("d0" "05" "03" "05" "07" "09"))


# --- superframes -------------------------------------------------------------------------------


def test_superframes_round_trip_with_as_many_size_bytes_as_needed() -> None:
    frames = [b"\x86" * 10, b"\x84" * 300, b"\x86" * 70_000]
    joined = vp9.superframe(frames)
    assert joined[-1] == joined[-(2 + 3 * 3)] == 0b110_10_010  # 3 bytes a size, 3 frames
    assert vp9.split_superframe(joined) == frames
    assert vp9.superframe([b"\x86abc"]) == b"\x86abc" == vp9.split_superframe(b"\x86abc")[0]
    looks_like_marker = b"\x86abc\xc1"  # no matching first index byte: an ordinary frame
    assert vp9.split_superframe(looks_like_marker) == [looks_like_marker]


@pytest.mark.parametrize(("frames", "message"), [
    ([], "1 to 8 frames"), ([b"\x86"] * 9, "1 to 8 frames"), ([b"\x86", b""], "empty frame"),
])
def test_superframes_refuse_what_the_index_cannot_hold(frames: list[bytes], message: str) -> None:
    with pytest.raises(Vp9Error, match=message):
        vp9.superframe(frames)


def test_a_superframe_index_that_does_not_fit_its_frames_raises() -> None:
    joined = bytearray(vp9.superframe([b"\x86" * 10, b"\x86" * 20]))
    joined[-3] += 1  # the second frame's size
    with pytest.raises(Vp9Error, match="does not match"):
        vp9.split_superframe(bytes(joined))
    with pytest.raises(Vp9Error, match="empty"):
        vp9.split_superframe(b"")


def test_libvpx_superframes_split_and_join_byte_for_byte(alt_ref_frames: Frames) -> None:
    split = [vp9.split_superframe(data) for data, _ in alt_ref_frames]
    assert any(len(parts) == 2 for parts in split), "two-pass libvpx sent no superframe"
    for (data, _), parts in zip(alt_ref_frames, split, strict=True):
        assert vp9.superframe(parts) == data


# --- the uncompressed header -------------------------------------------------------------------


def test_frame_headers_tell_keyframes_size_and_depth(profile2_frames: Frames) -> None:
    (key, _), (inter, _) = libvpx_frames(2, 320, 240)
    assert vp9.parse_frame_header(key) == vp9.FrameHeader(0, False, True, True, 8, 320, 240)
    assert vp9.parse_frame_header(inter) == vp9.FrameHeader(0, False, False, True)
    ten_bit = vp9.parse_frame_header(profile2_frames[0][0])
    assert (ten_bit.profile, ten_bit.bit_depth, ten_bit.width, ten_bit.height) == (2, 10, 160, 120)
    assert vp9.parse_frame_header(b"\x88") == vp9.FrameHeader(0, True, False, True)


@pytest.mark.parametrize(("frame", "message"), [
    (b"", "ends early"), (b"\x02\x00", "no frame marker"), (b"\x82\x49\x83", "ends early"),
    (b"\x82\x49\x83\x43\x00\x00\x00\x00\x00", "sync code"),
    (b"\x82\x49\x83\x42\xe0\x00\x00\x00\x00", "RGB"), (b"\xb8", "reserved bit"),
])
def test_malformed_frame_headers_raise(frame: bytes, message: str) -> None:
    with pytest.raises(Vp9Error, match=message):
        vp9.parse_frame_header(frame)


# --- pictures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flexible", [False, True])
def test_real_frames_come_back_from_their_packets_and_decode_alike(flexible: bool) -> None:
    frames = libvpx_frames(10, keyframes=(6,))
    pictures = [vp9.assemble(payloads)
                for payloads in rtp_pictures(frames, flexible=flexible, mtu=500,
                                             sizes=((320, 240),))]
    assert all(len(p) > 2 for p in rtp_pictures(frames, mtu=500)), "frames span packets"
    assert [p.data for p in pictures] == [data for data, _ in frames]
    assert [p.keyframe for p in pictures] == [key for _, key in frames]
    assert [n for n, p in enumerate(pictures) if p.keyframe] == [0, 6]
    ours, theirs = decoded([p.data for p in pictures]), decoded([d for d, _ in frames])
    assert len(ours) == 10 and all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_a_picture_of_two_layer_frames_becomes_a_superframe_ffmpeg_decodes(
    alt_ref_frames: Frames,
) -> None:
    """Each frame of libvpx's superframes (hidden alt-ref, then the shown frame) is sent as a
    layer frame of its own, as a spatial-layer sender does: B is seen twice in one picture."""
    pictures = [vp9.assemble(payloads)
                for payloads in rtp_pictures(alt_ref_frames, split=True, with_layers=False)]
    assert sorted({p.layers for p in pictures}) == [1, 2]
    assert [p.data for p in pictures] == [data for data, _ in alt_ref_frames]
    ours, theirs = decoded([p.data for p in pictures]), decoded([d for d, _ in alt_ref_frames])
    assert len(ours) == 40 and all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_ten_bit_profile_2_comes_back_and_decodes(profile2_frames: Frames) -> None:
    pictures = [vp9.assemble(p) for p in rtp_pictures(profile2_frames, mtu=300)]
    assert pictures[0].keyframe and not any(p.keyframe for p in pictures[1:])
    decoder: Any = av.CodecContext.create("vp9", "r")
    frames = [f for p in pictures for f in decoder.decode(av.Packet(p.data))]
    assert len(frames) == 10 and frames[0].format.name == "yuv420p10le"


def test_spatial_layers_in_order_are_joined_with_one_index() -> None:
    (key, _), = libvpx_frames(1, 64, 48)
    nested = vp9.superframe([b"\x84" * 5, b"\x86" * 7])
    picture = vp9.assemble(packetize([key, nested], 7, keyframe=True, mtu=40))
    assert picture.layers == 2 and picture.keyframe
    assert vp9.split_superframe(picture.data) == [key, b"\x84" * 5, b"\x86" * 7]
    upper_only = packetize([key], 8, keyframe=True)
    flags_and_id, layer = upper_only[0][:3], upper_only[0][3]  # SID is bits 1-3 of the layer
    upper_only[0] = flags_and_id + bytes([layer | 1 << 1]) + upper_only[0][4:]
    assert not vp9.assemble(upper_only).keyframe, "a keyframe starts in spatial layer 0"


def _described(flags: int, data: bytes = b"\x86\x00", picture_id: int | None = None) -> bytes:
    return bytes([flags | (0x80 if picture_id is not None else 0)]) \
        + (bytes([picture_id]) if picture_id is not None else b"") + data


B, E, P, L = 0x08, 0x04, 0x40, 0x20  # L: layer indices (and TL0PICIDX) lead the data below


@pytest.mark.parametrize(("payloads", "message"), [
    ([], "without packets"),
    ([_described(P | E)], "never began"),
    ([_described(P | B), _described(P | B | E)], "began before"),
    ([_described(P | B)], "no end"),
    ([_described(P | B, picture_id=1), _described(P | E, picture_id=2)], "picture IDs 1 and 2"),
    ([_described(P | B | E, b"")], "empty VP9 layer frame"),
    ([_described(P | B | E)] * 9, "1 to 8 frames"),
    ([_described(P | B | E | L, b"\x02\x00\x86"), _described(P | B | E | L, b"\x00\x00\x86")],
     "spatial layers out of order"),
    ([_described(B | E, b"\x00\x01garbage")], "no frame marker"),
    ([_described(P | B, b"\x86"), b"\xa0"], "ends before its picture ID"),
    ([b""], "ends before its flags"),
])
def test_malformed_pictures_raise(payloads: list[bytes], message: str) -> None:
    with pytest.raises(Vp9Error, match=message):
        vp9.assemble(payloads)


# --- fuzzing -----------------------------------------------------------------------------------


def test_fuzz_random_payloads_only_raise_vp9_error() -> None:
    rng = random.Random(9628)
    for _ in range(3000):
        payloads = [rng.randbytes(rng.randrange(0, 24)) for _ in range(rng.randrange(0, 4))]
        if payloads and payloads[0] and rng.random() < 0.5:
            payloads[0] = bytes([payloads[0][0] | B]) + payloads[0][1:]  # past "never began"
        for parse in (vp9.parse_descriptor, vp9.split_superframe, vp9.parse_frame_header):
            with contextlib.suppress(Vp9Error):
                parse(payloads[0] if payloads else b"")
        with contextlib.suppress(Vp9Error):
            picture = vp9.assemble(payloads)
            assert picture.data and 1 <= picture.layers <= vp9.MAX_FRAMES


def test_fuzz_damaged_real_packets_only_raise_vp9_error() -> None:
    rng = random.Random(7741)
    pictures = rtp_pictures(libvpx_frames(2, 64, 48), mtu=60, flexible=True, sizes=((64, 48),))
    for _ in range(1500):
        payloads = [bytearray(p) for p in rng.choice(pictures)]
        for _ in range(rng.randrange(1, 4)):
            damaged = rng.choice(payloads)
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:
            del payloads[rng.randrange(len(payloads)):]
        with contextlib.suppress(Vp9Error):
            vp9.assemble([bytes(p) for p in payloads])
