"""The RTMP chunk stream: messages split into interleaved chunks, and their reassembly.

`ChunkDecoder` is fed raw bytes in pieces of any size and returns complete messages. It keeps
the header-compression state of every chunk stream, so the four header formats, extended
timestamps and 32-bit timestamp arithmetic are all resolved here. `ChunkEncoder` does the
reverse for the server's own messages.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

DEFAULT_CHUNK_SIZE: Final = 128
MAX_CHUNK_SIZE: Final = 0x7FFFFFFF
DEFAULT_MAX_MESSAGE_SIZE: Final = 8 * 1024 * 1024
MIN_CSID: Final = 2
MAX_CSID: Final = 65599
TIMESTAMP_MASK: Final = 0xFFFFFFFF
_EXTENDED: Final = 0xFFFFFF  # the 24-bit field value meaning "see the extended timestamp"

_MSG_SET_CHUNK_SIZE: Final = 1
_MSG_ABORT: Final = 2
_CONTROL_TYPES: Final = frozenset((_MSG_SET_CHUNK_SIZE, _MSG_ABORT))
_HEADER_SIZES: Final = (11, 7, 3, 0)

_U32 = struct.Struct(">I")
_U32LE = struct.Struct("<I")


class ChunkError(ValueError):
    """The chunk stream is malformed or exceeds a limit; the connection cannot continue."""


@dataclass(frozen=True, slots=True)
class RtmpMessage:
    """One reassembled message. `timestamp` is the 32-bit RTMP value (it wraps after ~49 days)."""

    csid: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


class _InState:
    """What a chunk stream remembers for header compression, plus its partial message."""

    __slots__ = ("extended", "field", "length", "parts", "received", "stream_id", "timestamp",
                 "type_id")

    def __init__(self) -> None:
        self.timestamp = 0  # absolute timestamp of the current/last message
        self.field = 0  # last timestamp field: absolute after fmt 0, a delta after fmt 1/2
        self.extended = False  # the last fmt 0/1/2 header carried an extended timestamp
        self.length = 0
        self.type_id = 0
        self.stream_id = 0
        self.received = 0  # bytes of the current message received so far; 0 = between messages
        self.parts: list[bytes] = []


class ChunkDecoder:
    """Reassembles messages from a byte stream; state is kept per chunk stream id.

    Set Chunk Size and Abort messages are applied at the exact message boundary where they end,
    because the chunks that follow them in the same read already depend on them; they are also
    returned so the caller sees them.
    """

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self._buf = bytearray()
        self._streams: dict[int, _InState] = {}

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    def set_chunk_size(self, size: int) -> None:
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise ChunkError(f"invalid chunk size {size}")
        self._chunk_size = size

    def abort(self, csid: int) -> None:
        """Discard the partial message of a chunk stream (the Abort Message)."""
        state = self._streams.get(csid)
        if state is not None:
            state.received = 0
            state.parts = []

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete chunk."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[RtmpMessage]:
        buf = self._buf
        buf += data
        out: list[RtmpMessage] = []
        pos = 0
        end = len(buf)
        while pos < end:
            used = self._chunk(buf, pos, end, out)
            if not used:
                break
            pos += used
        if pos:
            del buf[:pos]  # cheap: CPython trims a bytearray's front without copying
        return out

    def _chunk(self, buf: bytearray, pos: int, end: int, out: list[RtmpMessage]) -> int:
        """Consume one whole chunk at `pos`; return its size, or 0 if it is not complete yet."""
        b0 = buf[pos]
        fmt = b0 >> 6
        csid = b0 & 0x3F
        p = pos + 1
        if csid == 0:
            if p + 1 > end:
                return 0
            csid = 64 + buf[p]
            p += 1
        elif csid == 1:
            if p + 2 > end:
                return 0
            csid = 64 + buf[p] + (buf[p + 1] << 8)
            p += 2
        if p + _HEADER_SIZES[fmt] > end:
            return 0
        state = self._streams.get(csid)
        if state is None:
            if fmt != 0:
                raise ChunkError(f"chunk stream {csid} starts with a type {fmt} header")
            state = _InState()
        elif fmt != 3 and state.received:
            raise ChunkError(f"new message header on chunk stream {csid} "
                             f"while a message is incomplete")
        if fmt == 3:
            return self._continuation(buf, pos, p, end, csid, state, out)
        return self._headed(buf, pos, p, end, fmt, csid, state, out)

    def _headed(self, buf: bytearray, pos: int, p: int, end: int, fmt: int, csid: int,
                state: _InState, out: list[RtmpMessage]) -> int:
        """A chunk with a type 0, 1 or 2 header: it always starts a new message."""
        field = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2]
        length, type_id, stream_id = state.length, state.type_id, state.stream_id
        if fmt <= 1:
            length = (buf[p + 3] << 16) | (buf[p + 4] << 8) | buf[p + 5]
            type_id = buf[p + 6]
            if fmt == 0:
                stream_id = _U32LE.unpack_from(buf, p + 7)[0]
        p += _HEADER_SIZES[fmt]
        extended = field == _EXTENDED
        if extended:
            if p + 4 > end:
                return 0
            field = _U32.unpack_from(buf, p)[0]
            p += 4
        if length > self.max_message_size:
            raise ChunkError(f"message of {length} bytes on chunk stream {csid} exceeds the "
                             f"{self.max_message_size}-byte limit")
        take = min(length, self._chunk_size)
        if p + take > end:
            return 0
        # The whole chunk is here: commit the header.
        state.timestamp = field if fmt == 0 else (state.timestamp + field) & TIMESTAMP_MASK
        state.field = field
        state.extended = extended
        state.length, state.type_id, state.stream_id = length, type_id, stream_id
        self._streams[csid] = state
        self._payload(buf, p, take, csid, state, out)
        return p + take - pos

    def _continuation(self, buf: bytearray, pos: int, p: int, end: int, csid: int,
                      state: _InState, out: list[RtmpMessage]) -> int:
        """A type 3 chunk: continues the current message or starts one like the last."""
        if state.extended:
            # The spec puts the extended timestamp on type 3 chunks too, some encoders omit it:
            # skip the 4 bytes only when they repeat the value (as SRS and nginx do).
            if p + 4 > end:
                return 0
            if _U32.unpack_from(buf, p)[0] == state.field:
                p += 4
        take = min(state.length - state.received, self._chunk_size)
        if p + take > end:
            return 0
        if not state.received:
            # A new message: apply the previous timestamp field again. After a type 0 header that
            # field is the absolute timestamp, which the spec says to use as the delta.
            state.timestamp = (state.timestamp + state.field) & TIMESTAMP_MASK
        self._payload(buf, p, take, csid, state, out)
        return p + take - pos

    def _payload(self, buf: bytearray, p: int, take: int, csid: int, state: _InState,
                 out: list[RtmpMessage]) -> None:
        if state.received == 0 and take == state.length:
            payload = bytes(buf[p : p + take])  # the common case: one chunk, one copy
        else:
            state.parts.append(bytes(buf[p : p + take]))
            state.received += take
            if state.received < state.length:
                return
            payload = b"".join(state.parts)
            state.parts = []
            state.received = 0
        message = RtmpMessage(csid, state.type_id, state.stream_id, state.timestamp, payload)
        out.append(message)
        if state.type_id in _CONTROL_TYPES:  # applied on any message stream id, to stay in sync
            self._control(message)

    def _control(self, message: RtmpMessage) -> None:
        if len(message.payload) < 4:
            raise ChunkError(f"protocol control message {message.type_id} is too short")
        value = _U32.unpack_from(message.payload)[0]
        if message.type_id == _MSG_SET_CHUNK_SIZE:
            self.set_chunk_size(value & MAX_CHUNK_SIZE)  # the top bit is reserved
        elif message.type_id == _MSG_ABORT:
            self.abort(value)


class _OutState:
    __slots__ = ("field", "length", "stream_id", "timestamp", "type_id")

    def __init__(self, message: RtmpMessage, field: int) -> None:
        self.timestamp = message.timestamp
        self.field = field
        self.length = len(message.payload)
        self.type_id = message.type_id
        self.stream_id = message.stream_id


def _basic_header(fmt: int, csid: int) -> bytes:
    if csid < 64:
        return bytes((fmt << 6 | csid,))
    if csid < 320:
        return bytes((fmt << 6, csid - 64))
    return bytes((fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8))


class ChunkEncoder:
    """Splits messages into chunks, compressing headers (types 1-3) when `compress` is set."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE, *, compress: bool = True) -> None:
        self.compress = compress
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self.chunk_size = chunk_size
        self._streams: dict[int, _OutState] = {}

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, size: int) -> None:
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise ChunkError(f"invalid chunk size {size}")
        self._chunk_size = size

    def encode(self, message: RtmpMessage) -> bytes:
        csid = message.csid
        if not MIN_CSID <= csid <= MAX_CSID:
            raise ChunkError(f"chunk stream id {csid} out of range")
        length = len(message.payload)
        if length > 0xFFFFFF:
            raise ChunkError(f"message of {length} bytes is too large for RTMP")
        fmt, field = self._header_type(message)
        self._streams[csid] = _OutState(message, field)
        extended = field >= _EXTENDED
        ext = _U32.pack(field & TIMESTAMP_MASK) if extended else b""
        header = bytearray(_basic_header(fmt, csid))
        if fmt < 3:
            header += (min(field, _EXTENDED)).to_bytes(3, "big")
        if fmt < 2:
            header += length.to_bytes(3, "big") + bytes((message.type_id,))
        if fmt == 0:
            header += _U32LE.pack(message.stream_id)
        header += ext
        return self._split(bytes(header), _basic_header(3, csid) + ext, message.payload)

    def _header_type(self, message: RtmpMessage) -> tuple[int, int]:
        """Pick the smallest header format the receiver can resolve, and its timestamp field."""
        prev = self._streams.get(message.csid)
        if (not self.compress or prev is None or prev.stream_id != message.stream_id
                or message.timestamp < prev.timestamp):
            return 0, message.timestamp
        delta = message.timestamp - prev.timestamp
        if prev.length != len(message.payload) or prev.type_id != message.type_id:
            return 1, delta
        if delta != prev.field:
            return 2, delta
        return 3, delta

    def _split(self, first: bytes, cont: bytes, payload: bytes) -> bytes:
        size = self._chunk_size
        if len(payload) <= size:
            return first + payload
        parts = [first, payload[:size]]
        for start in range(size, len(payload), size):
            parts.append(cont)
            parts.append(payload[start : start + size])
        return b"".join(parts)


class TimestampUnwrapper:
    """Extends 32-bit RTMP timestamps to a continuous integer timeline.

    The shortest signed distance to the previous value is taken, so forward wraps continue
    upwards and small backward jumps stay small instead of leaping ~49 days.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: int | None = None

    def unwrap(self, timestamp: int) -> int:
        last = self._last
        if last is None:
            value = timestamp & TIMESTAMP_MASK
        else:
            delta = ((timestamp - last + 0x80000000) & TIMESTAMP_MASK) - 0x80000000
            value = last + delta
        self._last = value
        return value
