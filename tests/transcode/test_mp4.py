from __future__ import annotations

import struct

import pytest

from courtcast.transcode.mp4 import BoxSplitter, Mp4Error, iter_boxes, parse_fragment


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def test_splitter_hands_out_complete_boxes_only() -> None:
    stream = box(b"ftyp", b"isom") + box(b"moov", b"x" * 20) + box(b"moof", b"y" * 5)
    splitter = BoxSplitter()
    splitter.write(stream[:10])
    assert splitter.boxes() == []
    splitter.write(stream[10:45])
    assert [kind for kind, _ in splitter.boxes()] == ["ftyp", "moov"]
    assert splitter.pending == 5  # the start of the moof
    splitter.write(stream[45:])
    assert splitter.boxes() == [("moof", box(b"moof", b"y" * 5))]
    assert splitter.pending == 0


def test_large_size_boxes() -> None:
    large = struct.pack(">I4sQ", 1, b"mdat", 20) + b"abcd"
    assert list(iter_boxes(large)) == [("mdat", 16, 20)]
    with pytest.raises(Mp4Error):
        list(iter_boxes(struct.pack(">I4s", 4, b"free")))


def test_fragment_timing_with_defaults_from_tfhd() -> None:
    tfhd = box(b"tfhd", struct.pack(">II", 0x28, 2) + struct.pack(">II", 1024, 0x10000))
    tfdt = box(b"tfdt", struct.pack(">IQ", 0x01000000, 48000))
    trun = box(b"trun", struct.pack(">III", 0x000201, 3, 0) + struct.pack(">3I", 10, 11, 12))
    moof = box(b"moof", box(b"mfhd", bytes(8)) + box(b"traf", tfhd + tfdt + trun))
    (run,) = parse_fragment(moof + box(b"mdat", bytes(33)))
    assert (run.track_id, run.base_decode_time, run.duration, run.samples) == (2, 48000, 3072, 3)
    assert not run.first_sync  # the default flags say non-sync
    with pytest.raises(Mp4Error):
        parse_fragment(box(b"mdat"))
