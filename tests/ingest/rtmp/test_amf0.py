from __future__ import annotations

import contextlib
import random

import pytest

from courtcast.ingest.rtmp import amf0
from courtcast.ingest.rtmp.amf0 import UNDEFINED, AmfDate, AmfError, AmfValue, EcmaArray


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (1.0, b"\x00\x3f\xf0\x00\x00\x00\x00\x00\x00"),
        (True, b"\x01\x01"),
        (False, b"\x01\x00"),
        ("connect", b"\x02\x00\x07connect"),
        ("", b"\x02\x00\x00"),
        (None, b"\x05"),
        (UNDEFINED, b"\x06"),
        ({"a": 1.0}, b"\x03\x00\x01a\x00\x3f\xf0\x00\x00\x00\x00\x00\x00\x00\x00\x09"),
        (EcmaArray(), b"\x08\x00\x00\x00\x00\x00\x00\x09"),
        ([None, True], b"\x0a\x00\x00\x00\x02\x05\x01\x01"),
        (AmfDate(0.0, 0), b"\x0b" + bytes(8) + b"\x00\x00"),
    ],
)
def test_known_vectors(value: AmfValue, encoded: bytes) -> None:
    assert amf0.encode_value(value) == encoded
    decoded, end = amf0.decode_value(encoded)
    assert decoded == value and type(decoded) is type(value)
    assert end == len(encoded)


def test_connect_command_as_ffmpeg_sends_it_round_trips() -> None:
    values: list[AmfValue] = [
        "connect", 1.0,
        {"app": "live", "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible; Lavf59.27.100)",
         "tcUrl": "rtmp://127.0.0.1:1935/live", "objectEncoding": 0.0},
    ]
    assert amf0.decode(amf0.encode(*values)) == values


def test_nested_and_exotic_values_round_trip() -> None:
    meta = EcmaArray(duration=0.0, width=640.0, encoder="Lavf", stereo=False,
                     keyframes={"times": [0.0, 2.0], "filepositions": [13.0, 9000.0]})
    values: list[AmfValue] = ["@setDataFrame", "onMetaData", meta, UNDEFINED,
                              AmfDate(1.7e12, -60), "é" * 10]
    decoded = amf0.decode(amf0.encode(*values))
    assert decoded == values
    assert isinstance(decoded[2], EcmaArray)


def test_long_strings_switch_encoding_and_decode() -> None:
    text = "x" * 70000
    encoded = amf0.encode_value(text)
    assert encoded[0] == amf0.LONG_STRING
    assert amf0.decode(encoded) == [text]
    assert amf0.decode(b"\x0c\x00\x00\x00\x02hi") == ["hi"]


def test_ints_encode_as_numbers() -> None:
    assert amf0.decode(amf0.encode(3)) == [3.0]


def test_ecma_array_count_is_advisory() -> None:
    # Some encoders write a count of 0 and list properties anyway: trust the end marker.
    data = b"\x08\x00\x00\x00\x00\x00\x01k\x05\x00\x00\x09"
    assert amf0.decode(data) == [{"k": None}]


def test_empty_key_inside_object_is_a_property_not_the_end() -> None:
    data = b"\x03\x00\x00\x05\x00\x00\x09"
    assert amf0.decode(data) == [{"": None}]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x3f\xf0",  # truncated number
        b"\x01",  # truncated boolean
        b"\x02\x00\x05ab",  # string shorter than its length
        b"\x03\x00\x01a\x05",  # object without end marker
        b"\x03\x00",  # truncated key length
        b"\x0a\xff\xff\xff\xff\x05",  # strict array count larger than the data
        b"\x0c\x00\x00\x10\x00abc",  # long string shorter than its length
        b"\x0b\x00\x00",  # truncated date
        b"\x09",  # object end outside an object
        b"\x07\x00\x01",  # reference: unsupported
        b"\x11\x02",  # AMF3 switch: unsupported
        b"\xff",  # unknown marker
        b"\x02\x00\x02\xff\xfe",  # invalid UTF-8
    ],
)
def test_malformed_input_raises_amf_error(data: bytes) -> None:
    with pytest.raises(AmfError):
        amf0.decode(data)


def test_nesting_depth_is_limited_when_decoding() -> None:
    deep = b"\x0a\x00\x00\x00\x01" * (amf0.MAX_DEPTH + 1) + b"\x05"
    with pytest.raises(AmfError, match="nesting"):
        amf0.decode(deep)
    shallow = b"\x0a\x00\x00\x00\x01" * 10 + b"\x05"
    assert amf0.decode(shallow)


def test_nesting_depth_is_limited_when_encoding() -> None:
    value: AmfValue = None
    for _ in range(amf0.MAX_DEPTH + 1):
        value = [value]
    with pytest.raises(AmfError):
        amf0.encode(value)


def test_unencodable_values_raise_amf_error() -> None:
    with pytest.raises(AmfError):
        amf0.encode(object())  # type: ignore[arg-type]
    with pytest.raises(AmfError):
        amf0.encode(AmfDate(float("nan")))


def test_fuzz_random_bytes_only_raise_amf_error() -> None:
    rng = random.Random(1935)
    markers = bytes(range(0x0D))
    for _ in range(3000):
        size = rng.randrange(0, 40)
        data = bytearray(rng.randbytes(size))
        if data and rng.random() < 0.7:
            data[0] = rng.choice(markers)  # mostly valid markers, to get past the first byte
        with contextlib.suppress(AmfError):
            amf0.decode(bytes(data))


def test_every_truncation_of_a_value_raises_amf_error() -> None:
    encoded = amf0.encode_value({"level": "status", "code": "NetStream.Publish.Start",
                                 "list": [1.0, "x", EcmaArray(a=True)], "when": AmfDate(5.0)})
    for cut in range(len(encoded)):
        with pytest.raises(AmfError):
            amf0.decode_value(encoded[:cut])
