"""AMF0 encoding and decoding (the serialisation of RTMP commands and metadata).

Mapping: number <-> float (ints encode as numbers), boolean <-> bool, string and long string
<-> str, object <-> dict, null <-> None, undefined <-> `UNDEFINED`, ECMA array <-> `EcmaArray`
(a dict), strict array <-> list, date <-> `AmfDate`. Untrusted input only ever raises `AmfError`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Final, TypeAlias

MAX_DEPTH: Final = 32  # publishers send at most 3 levels; deeper input is an attack

NUMBER: Final = 0x00
BOOLEAN: Final = 0x01
STRING: Final = 0x02
OBJECT: Final = 0x03
NULL: Final = 0x05
UNDEFINED_MARKER: Final = 0x06
ECMA_ARRAY: Final = 0x08
OBJECT_END: Final = 0x09
STRICT_ARRAY: Final = 0x0A
DATE: Final = 0x0B
LONG_STRING: Final = 0x0C

_DOUBLE = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DATE_TZ = struct.Struct(">dh")


class AmfError(ValueError):
    """Malformed, truncated or unsupported AMF0 data."""


class Undefined:
    """The AMF0 `undefined` value (distinct from null)."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined()


class EcmaArray(dict[str, "AmfValue"]):
    """An associative array; kept distinct from objects so round trips are exact."""


@dataclass(frozen=True, slots=True)
class AmfDate:
    milliseconds: float  # since the Unix epoch, UTC
    timezone: int = 0  # minutes; reserved by the spec, normally 0


AmfValue: TypeAlias = (
    float | bool | str | Undefined | AmfDate | dict[str, "AmfValue"] | list["AmfValue"] | None
)


# -- decoding ---------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.data = memoryview(data)
        self.pos = pos

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.data):
            raise AmfError(f"truncated AMF0 data: need {n} bytes at offset {self.pos}")
        view = self.data[self.pos : end]
        self.pos = end
        return view

    def unpack(self, fmt: struct.Struct) -> tuple[float | int, ...]:
        return fmt.unpack(self.take(fmt.size))

    def text(self, n: int) -> str:
        try:
            return str(self.take(n), "utf-8")
        except UnicodeDecodeError as exc:
            raise AmfError(f"invalid UTF-8 in AMF0 string at offset {self.pos - n}") from exc

    def short_string(self) -> str:
        (n,) = self.unpack(_U16)
        return self.text(int(n))

    def value(self, depth: int) -> AmfValue:
        marker = self.take(1)[0]
        decoder = _DECODERS.get(marker)
        if decoder is None:
            raise AmfError(f"unsupported AMF0 type marker 0x{marker:02x} at offset {self.pos - 1}")
        return decoder(self, depth)

    def properties(self, depth: int, into: dict[str, AmfValue]) -> dict[str, AmfValue]:
        if depth >= MAX_DEPTH:
            raise AmfError(f"AMF0 nesting deeper than {MAX_DEPTH}")
        while True:
            key = self.short_string()
            if not key and self.pos < len(self.data) and self.data[self.pos] == OBJECT_END:
                self.pos += 1
                return into
            into[key] = self.value(depth + 1)


def _number(r: _Reader, depth: int) -> AmfValue:
    return float(r.unpack(_DOUBLE)[0])


def _boolean(r: _Reader, depth: int) -> AmfValue:
    return r.take(1)[0] != 0


def _string(r: _Reader, depth: int) -> AmfValue:
    return r.short_string()


def _long_string(r: _Reader, depth: int) -> AmfValue:
    (n,) = r.unpack(_U32)
    return r.text(int(n))


def _object(r: _Reader, depth: int) -> AmfValue:
    return r.properties(depth, {})


def _null(r: _Reader, depth: int) -> AmfValue:
    return None


def _undefined(r: _Reader, depth: int) -> AmfValue:
    return UNDEFINED


def _ecma_array(r: _Reader, depth: int) -> AmfValue:
    r.take(4)  # the count is advisory: encoders get it wrong, the end marker is authoritative
    return r.properties(depth, EcmaArray())


def _strict_array(r: _Reader, depth: int) -> AmfValue:
    (count,) = r.unpack(_U32)
    if count > len(r.data) - r.pos:  # each element takes at least one byte: fail fast
        raise AmfError(f"strict array of {count} elements exceeds the remaining data")
    if depth >= MAX_DEPTH:
        raise AmfError(f"AMF0 nesting deeper than {MAX_DEPTH}")
    return [r.value(depth + 1) for _ in range(int(count))]


def _date(r: _Reader, depth: int) -> AmfValue:
    ms, tz = r.unpack(_DATE_TZ)
    return AmfDate(float(ms), int(tz))


def _object_end(r: _Reader, depth: int) -> AmfValue:
    raise AmfError(f"AMF0 object end marker outside an object at offset {r.pos - 1}")


_DECODERS = {
    NUMBER: _number,
    BOOLEAN: _boolean,
    STRING: _string,
    OBJECT: _object,
    NULL: _null,
    UNDEFINED_MARKER: _undefined,
    ECMA_ARRAY: _ecma_array,
    OBJECT_END: _object_end,
    STRICT_ARRAY: _strict_array,
    DATE: _date,
    LONG_STRING: _long_string,
}


def decode_value(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[AmfValue, int]:
    """Decode one value at `offset`; return it and the offset just after it."""
    reader = _Reader(data, offset)
    return reader.value(0), reader.pos


def decode(data: bytes | bytearray | memoryview) -> list[AmfValue]:
    """Decode every value in `data` (a command or data message body)."""
    reader = _Reader(data)
    values: list[AmfValue] = []
    while reader.pos < len(reader.data):
        values.append(reader.value(0))
    return values


# -- encoding ---------------------------------------------------------------------------


def _encode_key(key: str) -> bytes:
    raw = key.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise AmfError("AMF0 property name longer than 65535 bytes")
    return _U16.pack(len(raw)) + raw


def _encode_properties(props: dict[str, AmfValue], out: list[bytes], depth: int) -> None:
    for key, item in props.items():
        out.append(_encode_key(key))
        _encode_into(item, out, depth + 1)
    out.append(b"\x00\x00\x09")


def _encode_into(value: AmfValue, out: list[bytes], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise AmfError(f"AMF0 nesting deeper than {MAX_DEPTH}")
    if value is None:
        out.append(b"\x05")
    elif value is UNDEFINED:
        out.append(b"\x06")
    elif isinstance(value, bool):
        out.append(b"\x01\x01" if value else b"\x01\x00")
    elif isinstance(value, int | float):
        out.append(b"\x00" + _DOUBLE.pack(float(value)))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) <= 0xFFFF:
            out.append(b"\x02" + _U16.pack(len(raw)) + raw)
        else:
            out.append(b"\x0c" + _U32.pack(len(raw)) + raw)
    elif isinstance(value, EcmaArray):
        out.append(b"\x08" + _U32.pack(len(value)))
        _encode_properties(value, out, depth)
    elif isinstance(value, dict):
        out.append(b"\x03")
        _encode_properties(value, out, depth)
    elif isinstance(value, list):
        out.append(b"\x0a" + _U32.pack(len(value)))
        for item in value:
            _encode_into(item, out, depth + 1)
    elif isinstance(value, AmfDate):
        if not math.isfinite(value.milliseconds):
            raise AmfError("AMF0 date must be finite")
        out.append(b"\x0b" + _DATE_TZ.pack(value.milliseconds, value.timezone))
    else:
        raise AmfError(f"cannot encode {type(value).__name__} as AMF0")


def encode_value(value: AmfValue) -> bytes:
    out: list[bytes] = []
    _encode_into(value, out, 0)
    return b"".join(out)


def encode(*values: AmfValue) -> bytes:
    """Encode values back to back, as in a command message body."""
    out: list[bytes] = []
    for value in values:
        _encode_into(value, out, 0)
    return b"".join(out)
