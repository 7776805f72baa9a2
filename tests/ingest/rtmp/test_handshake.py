from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import shutil

import pytest

from courtcast.ingest.rtmp.handshake import (
    PACKET_SIZE,
    HandshakeError,
    ServerHandshake,
    client_digest_scheme,
)

RNG = random.Random(3)
SERVER_RANDOM = RNG.randbytes(PACKET_SIZE - 8)


def simple_c1() -> bytes:
    return (1234).to_bytes(4, "big") + bytes(4) + RNG.randbytes(PACKET_SIZE - 8)


def complex_c1(scheme: int) -> bytes:
    """A C1 as Flash-derived clients build it: version bytes set, HMAC digest embedded."""
    c1 = bytearray(bytes(4) + bytes((9, 0, 124, 2)) + RNG.randbytes(PACKET_SIZE - 8))
    base = 8 if scheme == 0 else 772
    offset = sum(c1[base : base + 4]) % 728 + base + 4
    message = bytes(c1[:offset] + c1[offset + 32 :])
    c1[offset : offset + 32] = hmac.new(b"Genuine Adobe Flash Player 001", message,
                                        hashlib.sha256).digest()
    return bytes(c1)


def test_simple_handshake() -> None:
    handshake = ServerHandshake(uptime_ms=77, random_bytes=SERVER_RANDOM)
    c1 = simple_c1()
    reply = handshake.feed(b"\x03" + c1)
    assert len(reply) == 1 + 2 * PACKET_SIZE
    s0, s1, s2 = reply[:1], reply[1 : 1 + PACKET_SIZE], reply[1 + PACKET_SIZE :]
    assert s0 == b"\x03"
    assert s1[:4] == (77).to_bytes(4, "big") and s1[4:8] == bytes(4) and s1[8:] == SERVER_RANDOM
    assert s2 == c1
    assert not handshake.complete and handshake.digest_scheme is None
    assert handshake.feed(s1 + b"\x02rest") == b""
    assert handshake.complete and handshake.c2_echoes_s1
    assert handshake.take_remaining() == b"\x02rest"


def test_byte_at_a_time() -> None:
    handshake = ServerHandshake(random_bytes=SERVER_RANDOM)
    c1 = simple_c1()
    replies = [handshake.feed(bytes((b,))) for b in b"\x03" + c1]
    assert [r for r in replies if r] == [replies[-1]] and replies[-1][-PACKET_SIZE:] == c1
    for b in handshake.s1[:-1]:
        assert handshake.feed(bytes((b,))) == b"" and not handshake.complete
    handshake.feed(handshake.s1[-1:])
    assert handshake.complete and handshake.take_remaining() == b""


def test_c0_c1_c2_in_one_read() -> None:
    handshake = ServerHandshake(random_bytes=SERVER_RANDOM)
    reply = handshake.feed(b"\x03" + simple_c1() + bytes(PACKET_SIZE) + b"xy")
    assert len(reply) == 1 + 2 * PACKET_SIZE
    assert handshake.complete and not handshake.c2_echoes_s1
    assert handshake.take_remaining() == b"xy"


@pytest.mark.parametrize("scheme", [0, 1])
def test_complex_handshake_digest_is_recognised_and_answered_by_echo(scheme: int) -> None:
    c1 = complex_c1(scheme)
    assert client_digest_scheme(c1) == scheme
    handshake = ServerHandshake(random_bytes=SERVER_RANDOM)
    reply = handshake.feed(b"\x03" + c1)
    assert handshake.digest_scheme == scheme
    assert reply[1 + PACKET_SIZE :] == c1
    handshake.feed(RNG.randbytes(PACKET_SIZE))  # a digest-based C2 is not an echo: accept it
    assert handshake.complete and not handshake.c2_echoes_s1


def test_version_bytes_without_a_valid_digest() -> None:
    c1 = bytearray(complex_c1(0))
    c1[100] ^= 0xFF
    c1[900] ^= 0xFF
    assert client_digest_scheme(bytes(c1)) is None


@pytest.mark.parametrize(
    ("first", "reason"),
    [(b"\x06", "RTMPE"), (b"GET / HTTP/1.1\r\n", "HTTP"), (b"\x16\x03\x01", "TLS"),
     (b"\x00", "version 0")],
)
def test_wrong_c0_is_refused_at_once(first: bytes, reason: str) -> None:
    with pytest.raises(HandshakeError, match=reason):
        ServerHandshake().feed(first)


def test_misuse_raises_handshake_error() -> None:
    handshake = ServerHandshake()
    with pytest.raises(HandshakeError):
        handshake.take_remaining()
    handshake.feed(b"\x03" + simple_c1() + bytes(PACKET_SIZE))
    with pytest.raises(HandshakeError):
        handshake.feed(b"x")
    with pytest.raises(HandshakeError):
        client_digest_scheme(b"short")
    with pytest.raises(ValueError):
        ServerHandshake(random_bytes=b"short")


def test_fuzz_random_input_only_raises_handshake_error() -> None:
    rng = random.Random(9)
    for _ in range(300):
        handshake = ServerHandshake(random_bytes=SERVER_RANDOM)
        data = (b"\x03" if rng.random() < 0.8 else b"") + rng.randbytes(rng.randrange(0, 4000))
        try:
            for start in range(0, len(data), 500):
                if handshake.complete:
                    break
                handshake.feed(data[start : start + 500])
        except HandshakeError:
            pass


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")
async def test_ffmpeg_uses_the_complex_handshake_and_accepts_the_echo() -> None:
    done: asyncio.Future[ServerHandshake] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshake = ServerHandshake()
        try:
            while not handshake.complete:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(handshake.feed(data))
            # After C2 ffmpeg sends its connect command: the handshake was accepted.
            rest = handshake.take_remaining() or await reader.read(65536)
            assert rest[:1] == b"\x03"  # chunk stream 3, fmt 0: the connect command
            done.set_result(handshake)
        except Exception as exc:
            done.set_exception(exc)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ffmpeg = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "quiet", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-t", "1",
        "-c:v", "libx264", "-f", "flv", f"rtmp://127.0.0.1:{port}/live/key")
    try:
        handshake = await asyncio.wait_for(done, 20)
    finally:
        if ffmpeg.returncode is None:
            ffmpeg.kill()
        await ffmpeg.wait()
        server.close()
        await server.wait_closed()
    assert handshake.digest_scheme == 0
