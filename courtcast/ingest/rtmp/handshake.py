"""The server side of the RTMP handshake (C0/C1/C2 in, S0/S1/S2 out), version 3.

Publishers use either the simple handshake (C1 bytes 4-7 zero) or the "complex" one, where C1
carries an HMAC-SHA256 digest (ffmpeg, Flash-derived encoders). We answer both the simple way:
S1 has zero version bytes, which tells clients not to validate a server digest (ffmpeg only
validates one when playing, librtmp/OBS only for RTMPE/SWF verification), and S2 echoes C1.
The client's digest is still recognised and reported, for logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

VERSION: Final = 3
PACKET_SIZE: Final = 1536
_CLIENT_KEY: Final = b"Genuine Adobe Flash Player 001"  # the public part of the Flash key
_DIGEST_SIZE: Final = 32


class HandshakeError(ValueError):
    """The peer does not speak (unencrypted) RTMP."""


def client_digest_scheme(c1: bytes) -> int | None:
    """Return 0 or 1 if C1 carries a valid complex-handshake digest at that scheme's place."""
    if len(c1) != PACKET_SIZE:
        raise HandshakeError(f"C1 must be {PACKET_SIZE} bytes, got {len(c1)}")
    if not any(c1[4:8]):
        return None  # simple handshake
    for scheme, base in ((0, 8), (1, 772)):
        offset = sum(c1[base : base + 4]) % 728 + base + 4
        message = c1[:offset] + c1[offset + _DIGEST_SIZE :]
        digest = hmac.new(_CLIENT_KEY, message, hashlib.sha256).digest()
        if hmac.compare_digest(digest, c1[offset : offset + _DIGEST_SIZE]):
            return scheme
    return None


def _describe_c0(c0: int) -> str:
    if c0 == 6:
        return "encrypted RTMP (RTMPE) is not supported"
    if c0 in b"GPHCO":
        return "the peer speaks HTTP, not RTMP"
    if c0 == 0x16:
        return "the peer speaks TLS (rtmps), not plain RTMP"
    return f"unsupported RTMP version {c0}"


class ServerHandshake:
    """Consumes C0+C1 then C2 in pieces of any size; `feed` returns what to send back."""

    def __init__(self, *, uptime_ms: int = 0, random_bytes: bytes | None = None) -> None:
        if random_bytes is None:
            random_bytes = os.urandom(PACKET_SIZE - 8)
        if len(random_bytes) != PACKET_SIZE - 8:
            raise ValueError(f"random_bytes must be {PACKET_SIZE - 8} bytes")
        self._s1 = (uptime_ms & 0xFFFFFFFF).to_bytes(4, "big") + bytes(4) + random_bytes
        self._buf = bytearray()
        self._sent = False
        self.complete = False
        self.digest_scheme: int | None = None  # complex-handshake scheme the client used
        self.c2_echoes_s1 = False  # True for simple-handshake clients

    @property
    def s1(self) -> bytes:
        return self._s1

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take client bytes; return the bytes to send (S0+S1+S2 once C0+C1 are in)."""
        if self.complete:
            raise HandshakeError("handshake already complete")
        self._buf += data
        if not self._buf:
            return b""
        if self._buf[0] != VERSION:
            raise HandshakeError(_describe_c0(self._buf[0]))
        if not self._sent:
            return self._answer_c1()
        self._check_c2()
        return b""

    def _answer_c1(self) -> bytes:
        if len(self._buf) < 1 + PACKET_SIZE:
            return b""
        c1 = bytes(self._buf[1 : 1 + PACKET_SIZE])
        self.digest_scheme = client_digest_scheme(c1)
        self._sent = True
        self._check_c2()  # C2 may already be here (a client need not wait for S2)
        return bytes((VERSION,)) + self._s1 + c1

    def _check_c2(self) -> None:
        start = 1 + PACKET_SIZE
        if len(self._buf) < start + PACKET_SIZE:
            return
        c2 = self._buf[start : start + PACKET_SIZE]
        self.c2_echoes_s1 = c2[8:] == self._s1[8:]
        # Complex-handshake C2 carries a digest instead of an echo; neither is a reason to refuse.
        del self._buf[: start + PACKET_SIZE]
        self.complete = True

    def take_remaining(self) -> bytes:
        """Bytes that followed C2: the beginning of the chunk stream."""
        if not self.complete:
            raise HandshakeError("handshake not complete")
        rest = bytes(self._buf)
        self._buf.clear()
        return rest
