"""VP9 over RTP (RFC 9628): the payload descriptor, and one picture's packets back into a frame.

aiortc 1.16 has no VP9 depacketizer: its receiver hands each packet's payload on as it is, and
`peer.MarkerJitterBuffer` keeps them apart per picture. `assemble()` strips the descriptors and
joins each layer frame (the packets from a B bit to an E bit). A picture of several layer frames
(spatial layers) becomes a superframe with an index (VP9 bitstream spec, Annex B): libvpx, which
browsers use, decodes frames laid back to back, but FFmpeg's decoder splits them only by that
index. Pure functions: bytes in, values out, `Vp9Error` for anything truncated or malformed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from courtcast.transcode.codecs import BitReader, CodecConfigError

MAX_REFERENCES: Final = 3  # P_DIFFs in one descriptor (flexible mode)
MAX_FRAMES: Final = 8  # a superframe index counts frames in 3 bits
_SUPERFRAME: Final = 0xC0  # the marker byte's top three bits: 0b110
_SYNC_CODE: Final = 0x498342  # follows a keyframe's first bits
_CS_RGB: Final = 7
_HEADER_BYTES: Final = 16  # more than a keyframe header's fields up to the frame size


class Vp9Error(ValueError):
    """A VP9 RTP payload, picture or frame is truncated or malformed."""


@dataclass(frozen=True, slots=True)
class LayerIndices:
    temporal_id: int
    switching_up: bool  # U
    spatial_id: int
    inter_layer_dependency: bool  # D
    tl0_pic_idx: int | None = None  # non-flexible mode only


@dataclass(frozen=True, slots=True)
class GroupPicture:
    """One picture of the scalability structure's picture group."""

    temporal_id: int
    switching_up: bool
    references: tuple[int, ...]  # P_DIFFs


@dataclass(frozen=True, slots=True)
class Scalability:
    """The scalability structure (SS, V bit), sent with keyframes."""

    spatial_layers: int  # N_S + 1
    resolutions: tuple[tuple[int, int], ...] = ()  # (width, height) per layer, when Y is set
    picture_group: tuple[GroupPicture, ...] | None = None  # when G is set


@dataclass(frozen=True, slots=True)
class Descriptor:
    inter_predicted: bool  # P
    flexible: bool  # F
    begins_frame: bool  # B: first packet of a layer frame
    ends_frame: bool  # E: last packet of a layer frame
    not_upper_reference: bool  # Z
    picture_id: int | None = None  # 7 or 15 bits
    layer: LayerIndices | None = None
    references: tuple[int, ...] = ()  # P_DIFFs (flexible mode, P set)
    scalability: Scalability | None = None
    size: int = 1  # bytes; the VP9 data follows


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The start of a frame's uncompressed header; size and bit depth only on keyframes."""

    profile: int
    show_existing_frame: bool
    keyframe: bool
    show_frame: bool
    bit_depth: int = 0
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class Picture:
    data: bytes  # one frame, or a superframe of the picture's layer frames
    keyframe: bool
    layers: int  # layer frames joined


# --- the payload descriptor ------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise Vp9Error(f"the VP9 payload descriptor ends before its {what}")
        self.pos += 1
        return self.data[self.pos - 1]

    def word(self, what: str) -> int:
        return self.byte(what) << 8 | self.byte(what)


def _bit(value: int, shift: int) -> bool:
    return bool(value >> shift & 1)


def _picture_id(reader: _Reader) -> int:
    first = reader.byte("picture ID")
    if first & 0x80:  # M: 15 bits
        return (first & 0x7F) << 8 | reader.byte("extended picture ID")
    return first


def _layer_indices(reader: _Reader, flexible: bool) -> LayerIndices:
    value = reader.byte("layer indices")
    tl0 = None if flexible else reader.byte("TL0PICIDX")
    return LayerIndices(value >> 5, _bit(value, 4), value >> 1 & 7, _bit(value, 0), tl0)


def _references(reader: _Reader) -> tuple[int, ...]:
    diffs: list[int] = []
    while True:
        value = reader.byte("P_DIFF")
        diffs.append(value >> 1)
        if not value & 1:  # N: no further P_DIFF
            return tuple(diffs)
        if len(diffs) == MAX_REFERENCES:
            raise Vp9Error(f"more than {MAX_REFERENCES} P_DIFF references")


def _group_picture(reader: _Reader) -> GroupPicture:
    value = reader.byte("picture group entry")
    count = value >> 2 & 3  # R
    references = tuple(reader.byte("picture group P_DIFF") for _ in range(count))
    return GroupPicture(value >> 5, _bit(value, 4), references)


def _scalability(reader: _Reader) -> Scalability:
    value = reader.byte("scalability structure")
    layers = (value >> 5) + 1
    resolutions: tuple[tuple[int, int], ...] = ()
    if _bit(value, 4):  # Y
        resolutions = tuple((reader.word("width"), reader.word("height")) for _ in range(layers))
    group = None
    if _bit(value, 3):  # G
        group = tuple(_group_picture(reader) for _ in range(reader.byte("N_G")))
    return Scalability(layers, resolutions, group)


def parse_descriptor(payload: bytes) -> Descriptor:
    """The descriptor at the start of a VP9 RTP payload; its `size` is where the data begins."""
    reader = _Reader(payload)
    flags = reader.byte("flags")
    flexible, inter = _bit(flags, 4), _bit(flags, 6)
    picture_id = _picture_id(reader) if _bit(flags, 7) else None
    layer = _layer_indices(reader, flexible) if _bit(flags, 5) else None
    references = _references(reader) if flexible and inter else ()
    scalability = _scalability(reader) if _bit(flags, 1) else None
    return Descriptor(inter_predicted=inter, flexible=flexible, begins_frame=_bit(flags, 3),
                      ends_frame=_bit(flags, 2), not_upper_reference=_bit(flags, 0),
                      picture_id=picture_id, layer=layer, references=references,
                      scalability=scalability, size=reader.pos)


# --- superframes (Annex B) -------------------------------------------------------------------


def superframe(frames: Sequence[bytes]) -> bytes:
    """Frames joined with a superframe index; a single frame is returned as it is."""
    if not 1 <= len(frames) <= MAX_FRAMES:
        raise Vp9Error(f"a superframe holds 1 to {MAX_FRAMES} frames, not {len(frames)}")
    if not all(frames):
        raise Vp9Error("an empty frame cannot go into a superframe")
    if len(frames) == 1:
        return frames[0]
    width = max(1, (max(map(len, frames)).bit_length() + 7) // 8)  # bytes per frame size
    if width > 4:
        raise Vp9Error("a frame too large for a superframe index")
    marker = bytes([_SUPERFRAME | (width - 1) << 3 | (len(frames) - 1)])
    sizes = b"".join(len(frame).to_bytes(width, "little") for frame in frames)
    return b"".join(frames) + marker + sizes + marker


def split_superframe(data: bytes) -> list[bytes]:
    """The frames of a superframe, or `[data]` when it ends in no superframe index."""
    if not data:
        raise Vp9Error("an empty VP9 frame")
    marker = data[-1]
    if marker & 0xE0 != _SUPERFRAME:
        return [data]
    width, count = (marker >> 3 & 3) + 1, (marker & 7) + 1
    index = 2 + width * count
    if index > len(data) or data[-index] != marker:
        return [data]  # the frame's last byte only looks like a marker
    start = len(data) - index + 1
    sizes = [int.from_bytes(data[pos:pos + width], "little")
             for pos in range(start, start + width * count, width)]
    if 0 in sizes or sum(sizes) != len(data) - index:
        raise Vp9Error("the superframe index does not match the frames before it")
    offsets = [sum(sizes[:n]) for n in range(count + 1)]
    return [data[offsets[n]:offsets[n + 1]] for n in range(count)]


# --- the uncompressed header -----------------------------------------------------------------


def _bit_depth(reader: BitReader, profile: int) -> int:
    """Reads color_config(); returns the bit depth."""
    depth = (12 if reader.flag() else 10) if profile >= 2 else 8
    if reader.bits(3) != _CS_RGB:
        reader.bits(1)  # color_range
        if profile in (1, 3):
            reader.bits(3)  # subsampling_x, subsampling_y, reserved_zero
    elif profile in (1, 3):
        reader.bits(1)  # reserved_zero
    else:
        raise Vp9Error("an RGB VP9 keyframe in profile 0 or 2")
    return depth


def _frame_header(reader: BitReader) -> FrameHeader:
    if reader.bits(2) != 2:
        raise Vp9Error("not a VP9 frame: no frame marker")
    low = reader.bits(1)
    profile = reader.bits(1) << 1 | low
    if profile == 3 and reader.flag():
        raise Vp9Error("a reserved bit of the VP9 frame header is set")
    if reader.flag():  # show_existing_frame: shows a decoded frame again, nothing else
        return FrameHeader(profile, show_existing_frame=True, keyframe=False, show_frame=True)
    keyframe, show_frame = not reader.flag(), reader.flag()
    reader.bits(1)  # error_resilient_mode
    if not keyframe:
        return FrameHeader(profile, False, False, show_frame)
    if reader.bits(24) != _SYNC_CODE:
        raise Vp9Error("a VP9 keyframe without the sync code")
    depth = _bit_depth(reader, profile)
    width, height = reader.bits(16) + 1, reader.bits(16) + 1
    return FrameHeader(profile, False, True, show_frame, depth, width, height)


def parse_frame_header(frame: bytes) -> FrameHeader:
    """The first fields of a frame's (or a superframe's first frame's) uncompressed header."""
    try:
        return _frame_header(BitReader(frame[:_HEADER_BYTES]))
    except CodecConfigError:
        raise Vp9Error("the VP9 frame header ends early") from None


# --- pictures --------------------------------------------------------------------------------


def _check_same_picture(first: Descriptor, other: Descriptor) -> None:
    if None not in (first.picture_id, other.picture_id) and first.picture_id != other.picture_id:
        raise Vp9Error(f"picture IDs {first.picture_id} and {other.picture_id} in one picture")


def _next_frame(current: tuple[Descriptor, list[bytes]] | None,
                descriptor: Descriptor) -> tuple[Descriptor, list[bytes]]:
    if descriptor.begins_frame and current is not None:
        raise Vp9Error("a layer frame began before the previous one ended")
    if not descriptor.begins_frame and current is None:
        raise Vp9Error("a packet continues a layer frame that never began")
    return current or (descriptor, [])


def layer_frames(payloads: Sequence[bytes]) -> list[tuple[Descriptor, bytes]]:
    """A picture's layer frames, each with the descriptor of its first packet."""
    frames: list[tuple[Descriptor, bytes]] = []
    first: Descriptor | None = None
    current: tuple[Descriptor, list[bytes]] | None = None
    for payload in payloads:
        descriptor = parse_descriptor(payload)
        first = first or descriptor
        _check_same_picture(first, descriptor)
        current = _next_frame(current, descriptor)
        current[1].append(payload[descriptor.size:])
        if descriptor.ends_frame:
            frames.append((current[0], b"".join(current[1])))
            current = None
    if current is not None:
        raise Vp9Error("the picture's last layer frame has no end (E bit)")
    if not frames:
        raise Vp9Error("a VP9 picture without packets")
    return frames


def _check_layers(descriptors: list[Descriptor]) -> None:
    spatial = [d.layer.spatial_id for d in descriptors if d.layer is not None]
    if any(b <= a for a, b in itertools.pairwise(spatial)):
        raise Vp9Error(f"spatial layers out of order: {spatial}")


def is_keyframe(descriptor: Descriptor, frame: bytes) -> bool:
    """P=0 on the base layer says intra; the header tells a keyframe from an intra-only frame."""
    if descriptor.inter_predicted or (descriptor.layer and descriptor.layer.spatial_id):
        return False
    return parse_frame_header(frame).keyframe


def assemble(payloads: Sequence[bytes]) -> Picture:
    """One picture's RTP payloads (one timestamp, in sequence order) as a frame to decode."""
    frames = layer_frames(payloads)
    _check_layers([descriptor for descriptor, _ in frames])
    if not all(data for _, data in frames):
        raise Vp9Error("an empty VP9 layer frame")
    if len(frames) == 1:
        data = frames[0][1]
    else:  # a layer frame may itself be a superframe: one index for all
        data = superframe([part for _, frame in frames for part in split_superframe(frame)])
    return Picture(data, is_keyframe(*frames[0]), len(frames))
