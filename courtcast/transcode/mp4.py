"""Pure ISO-BMFF helpers: split a fragmented MP4 byte stream into boxes and read fragment timing.

The segmenter lets FFmpeg's mp4 muxer write one long fragmented file per configuration and cuts
its output at top-level box boundaries: `ftyp`+`moov` is the init segment, every `moof`+`mdat`
pair is one CMAF media segment. Timing is read back from the boxes (tfdt/trun) rather than
predicted, so durations are exactly what players will see.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

_HEADER = struct.Struct(">I4s")
_NON_SYNC = 0x00010000  # sample_is_non_sync_sample in ISO 14496-12 sample flags


class Mp4Error(ValueError):
    """The bytes are not the ISO-BMFF structure we expect."""


def iter_boxes(
    data: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int]]:
    """Yield (type, offset of the payload, end offset) of each complete box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        header = 8
        if size == 1:  # 64-bit largesize follows the type
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        if size < header:
            raise Mp4Error(f"bad box size {size} at {pos}")
        if pos + size > end:
            return
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


class BoxSplitter:
    """Accumulates written bytes and hands out complete top-level boxes, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def boxes(self) -> list[tuple[str, bytes]]:
        """Remove and return every complete top-level box buffered so far."""
        found: list[tuple[str, bytes]] = []
        consumed = 0
        view = memoryview(self._buffer)
        try:
            for kind, _payload, end in iter_boxes(view):
                found.append((kind, bytes(view[consumed:end])))
                consumed = end
        finally:
            view.release()
        del self._buffer[:consumed]
        return found

    @property
    def pending(self) -> int:
        """Bytes of an incomplete box still waiting for the rest of it."""
        return len(self._buffer)


@dataclass(frozen=True, slots=True)
class TrackTiming:
    track_id: int
    handler: str  # "vide", "soun", ...
    timescale: int


@dataclass(frozen=True, slots=True)
class TrackRun:
    """One track's part of a fragment."""

    track_id: int
    base_decode_time: int  # tfdt, in the track's timescale
    duration: int  # sum of sample durations, same unit
    samples: int
    first_sync: bool  # the first sample is a sync sample (keyframe)


def _children(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    return {kind: (payload, stop) for kind, payload, stop in iter_boxes(data, start, end)}


def parse_init(init: bytes) -> dict[int, TrackTiming]:
    """Track ids, handler types and timescales from an init segment's moov."""
    top = _children(init, 0, len(init))
    if "moov" not in top:
        raise Mp4Error("no moov box")
    tracks: dict[int, TrackTiming] = {}
    for kind, start, end in iter_boxes(init, *top["moov"]):
        if kind == "trak":
            timing = _parse_trak(init, start, end)
            tracks[timing.track_id] = timing
    return tracks


def _parse_trak(data: bytes, start: int, end: int) -> TrackTiming:
    trak = _children(data, start, end)
    tkhd, _ = trak["tkhd"]
    version = data[tkhd]
    track_id = struct.unpack_from(">I", data, tkhd + (20 if version else 12))[0]
    mdia = _children(data, *trak["mdia"])
    mdhd, _ = mdia["mdhd"]
    timescale = struct.unpack_from(">I", data, mdhd + (20 if data[mdhd] else 12))[0]
    hdlr, _ = mdia["hdlr"]
    handler = data[hdlr + 8 : hdlr + 12].decode("latin-1")
    return TrackTiming(track_id, handler, timescale)


def parse_fragment(segment: bytes) -> list[TrackRun]:
    """Per-track decode time, duration and sync flag of the first moof in a media segment."""
    top = _children(segment, 0, len(segment))
    if "moof" not in top:
        raise Mp4Error("no moof box")
    return [
        _parse_traf(segment, start, end)
        for kind, start, end in iter_boxes(segment, *top["moof"])
        if kind == "traf"
    ]


def _parse_traf(data: bytes, start: int, end: int) -> TrackRun:
    traf = _children(data, start, end)
    tfhd, _ = traf["tfhd"]
    track_id, default_duration, default_flags = _parse_tfhd(data, tfhd)
    base = 0
    if "tfdt" in traf:
        tfdt, _ = traf["tfdt"]
        base = struct.unpack_from(">Q" if data[tfdt] else ">I", data, tfdt + 4)[0]
    duration = samples = 0
    first_sync = True
    for kind, payload, _stop in iter_boxes(data, start, end):
        if kind == "trun":
            run = _parse_trun(data, payload, default_duration, default_flags)
            if samples == 0:
                first_sync = run[2]
            duration += run[0]
            samples += run[1]
    return TrackRun(track_id, base, duration, samples, first_sync)


def _parse_tfhd(data: bytes, pos: int) -> tuple[int, int, int]:
    flags = int.from_bytes(data[pos + 1 : pos + 4], "big")
    track_id = struct.unpack_from(">I", data, pos + 4)[0]
    pos += 8
    if flags & 0x01:  # base_data_offset
        pos += 8
    if flags & 0x02:  # sample_description_index
        pos += 4
    default_duration = default_flags = 0
    if flags & 0x08:
        default_duration = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    if flags & 0x10:  # default_sample_size
        pos += 4
    if flags & 0x20:
        default_flags = struct.unpack_from(">I", data, pos)[0]
    return track_id, default_duration, default_flags


def _parse_trun(
    data: bytes, pos: int, default_duration: int, default_flags: int
) -> tuple[int, int, bool]:
    """(total duration, sample count, first sample is sync) of one trun box."""
    flags = int.from_bytes(data[pos + 1 : pos + 4], "big")
    count = struct.unpack_from(">I", data, pos + 4)[0]
    pos += 8
    if flags & 0x01:  # data_offset
        pos += 4
    first_flags = default_flags
    if flags & 0x04:
        first_flags = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    if not count:
        return 0, 0, True
    entries = struct.unpack_from(f">{count * len(fields)}I", data, pos) if fields else ()
    stride = len(fields)
    if 0x100 in fields:
        duration = sum(entries[fields.index(0x100) :: stride])
    else:
        duration = default_duration * count
    if 0x400 in fields and not flags & 0x04:
        first_flags = entries[fields.index(0x400)]
    return duration, count, not first_flags & _NON_SYNC
