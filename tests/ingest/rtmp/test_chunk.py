from __future__ import annotations

import random

import pytest

from courtcast.ingest.rtmp.chunk import (
    ChunkDecoder,
    ChunkEncoder,
    ChunkError,
    RtmpMessage,
    TimestampUnwrapper,
)

AUDIO = 8
VIDEO = 9


def feed_bytewise(decoder: ChunkDecoder, data: bytes) -> list[RtmpMessage]:
    out: list[RtmpMessage] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    return out


def test_known_vector_type0_set_chunk_size() -> None:
    # csid 2, fmt 0, timestamp 0, length 4, type 1, stream 0, payload 4096.
    data = bytes.fromhex("02 000000 000004 01 00000000 00001000")
    decoder = ChunkDecoder()
    [message] = decoder.feed(data)
    assert message == RtmpMessage(2, 1, 0, 0, b"\x00\x00\x10\x00")
    assert decoder.chunk_size == 4096  # applied at once: the next chunks depend on it


def test_known_vector_all_header_types() -> None:
    # One 10-byte audio message per chunk on csid 4: fmt 0 at 1000, fmt 2 delta 20,
    # fmt 3 (new message: delta 20 again), fmt 1 delta 33 with a new length.
    data = (bytes.fromhex("04 0003e8 00000a 08 01000000") + b"A" * 10
            + bytes.fromhex("84 000014") + b"B" * 10
            + bytes.fromhex("c4") + b"C" * 10
            + bytes.fromhex("44 000021 000003 08") + b"DDD")
    messages = ChunkDecoder().feed(data)
    assert [(m.timestamp, m.payload) for m in messages] == [
        (1000, b"A" * 10), (1020, b"B" * 10), (1040, b"C" * 10), (1073, b"DDD")]
    assert all(m.stream_id == 1 and m.type_id == AUDIO and m.csid == 4 for m in messages)


def test_type3_after_type0_uses_the_type0_timestamp_as_delta() -> None:
    # RTMP spec 5.3.1.2.4: a type 3 chunk may follow a type 0 when the delta equals the
    # first timestamp (ffmpeg writes streams like this).
    data = bytes.fromhex("06 000028 000001 09 01000000") + b"x" + bytes.fromhex("c6") + b"y"
    messages = ChunkDecoder().feed(data)
    assert [m.timestamp for m in messages] == [40, 80]


def test_type3_continuation_keeps_the_message_timestamp() -> None:
    payload = bytes(range(200)) + bytes(100)
    data = ChunkEncoder(128).encode(RtmpMessage(6, VIDEO, 1, 500, payload))
    assert data.count(b"\xc6") >= 2
    [message] = ChunkDecoder().feed(data)
    assert message.timestamp == 500 and message.payload == payload


@pytest.mark.parametrize("csid", [2, 3, 63, 64, 65, 319, 320, 1000, 65599])
def test_basic_header_sizes(csid: int) -> None:
    message = RtmpMessage(csid, 20, 0, 7, b"hello")
    data = ChunkEncoder().encode(message)
    expected_size = 1 if csid < 64 else 2 if csid < 320 else 3
    assert len(data) == expected_size + 11 + 5
    assert ChunkDecoder().feed(data) == [message]
    assert feed_bytewise(ChunkDecoder(), data) == [message]


def test_three_byte_form_accepted_for_small_ids() -> None:
    # 64..319 may also be written in the 3-byte form.
    data = bytes((1, 0, 0)) + bytes.fromhex("000000 000001 14 00000000") + b"z"
    [message] = ChunkDecoder().feed(data)
    assert message.csid == 64


def _stream(encoder: ChunkEncoder) -> tuple[bytes, list[RtmpMessage], set[int]]:
    """Interleaved audio/video/command messages that exercise every header type."""
    rng = random.Random(7)
    size = encoder.chunk_size
    encoder.chunk_size = 128
    # Announce the encoder's chunk size first, as a peer must.
    messages = [RtmpMessage(2, 1, 0, 0, size.to_bytes(4, "big"))]
    prefix = encoder.encode(messages[0])
    encoder.chunk_size = size
    video_ts = audio_ts = 0
    for i in range(60):
        video_ts += 40
        audio_ts += 23 if i % 3 else 24
        frame_size = rng.choice([5, 300, 900])
        messages.append(RtmpMessage(6, VIDEO, 1, video_ts, rng.randbytes(frame_size)))
        messages.append(RtmpMessage(4, AUDIO, 1, audio_ts, rng.randbytes(10)))
        if i % 17 == 0:
            messages.append(RtmpMessage(3, 20, 0, 0, b"cmd" * 50))
    encoded = [prefix] + [encoder.encode(m) for m in messages[1:]]
    return b"".join(encoded), messages, {chunk[0] >> 6 for chunk in encoded}


def test_round_trip_uses_all_header_types() -> None:
    data, messages, formats = _stream(ChunkEncoder(128))
    assert ChunkDecoder().feed(data) == messages
    assert formats == {0, 1, 2, 3}


def test_feeding_one_byte_at_a_time_equals_one_feed() -> None:
    data, messages, _ = _stream(ChunkEncoder(100))
    decoder = ChunkDecoder()
    assert feed_bytewise(decoder, data) == messages
    assert decoder.buffered == 0


def test_random_split_points() -> None:
    data, messages, _ = _stream(ChunkEncoder(64))
    rng = random.Random(3)
    decoder = ChunkDecoder()
    out: list[RtmpMessage] = []
    pos = 0
    while pos < len(data):
        step = rng.randrange(1, 700)
        out.extend(decoder.feed(data[pos : pos + step]))
        pos += step
    assert out == messages


def test_uncompressed_encoder_round_trips() -> None:
    data, messages, _ = _stream(ChunkEncoder(128, compress=False))
    assert ChunkDecoder().feed(data) == messages


def test_set_chunk_size_applies_to_the_bytes_right_after_it() -> None:
    big = bytes(range(256)) * 8
    small = ChunkEncoder(128)
    data = small.encode(RtmpMessage(2, 1, 0, 0, (4096).to_bytes(4, "big")))
    data += ChunkEncoder(4096).encode(RtmpMessage(6, VIDEO, 1, 0, big))
    messages = ChunkDecoder().feed(data)
    assert messages[1].payload == big
    assert feed_bytewise(ChunkDecoder(), data)[1].payload == big


def test_abort_discards_the_partial_message() -> None:
    encoder = ChunkEncoder(128)
    partial = encoder.encode(RtmpMessage(6, VIDEO, 1, 0, bytes(300)))[: 12 + 128]
    abort = ChunkEncoder().encode(RtmpMessage(2, 2, 0, 0, (6).to_bytes(4, "big")))
    fresh = ChunkEncoder().encode(RtmpMessage(6, VIDEO, 1, 40, b"new"))
    messages = ChunkDecoder().feed(partial + abort + fresh)
    assert [m.payload for m in messages] == [(6).to_bytes(4, "big"), b"new"]


# -- extended timestamps ------------------------------------------------------------------


def test_extended_timestamp_type0_and_continuations() -> None:
    message = RtmpMessage(6, VIDEO, 1, 0x01234567, bytes(range(256)) * 2)
    data = ChunkEncoder(128).encode(message)
    assert data[1:4] == b"\xff\xff\xff"
    assert data.count(b"\xc6\x01\x23\x45\x67") == 3  # continuation chunks repeat it
    assert ChunkDecoder().feed(data) == [message]
    assert feed_bytewise(ChunkDecoder(), data) == [message]


def test_extended_timestamp_missing_on_continuations_is_tolerated() -> None:
    payload = bytes(range(200))
    data = (bytes.fromhex("06 ffffff 0000c8 09 01000000 01000000") + payload[:128]
            + b"\xc6" + payload[128:])
    [message] = ChunkDecoder().feed(data)
    assert message.timestamp == 0x01000000 and message.payload == payload


def test_extended_delta_on_type1_then_type3_new_message() -> None:
    encoder = ChunkEncoder(128)
    first = RtmpMessage(6, VIDEO, 1, 0, b"a")
    second = RtmpMessage(6, VIDEO, 1, 0x1000000, b"bb")  # type 1: new length, extended delta
    third = RtmpMessage(6, VIDEO, 1, 0x2000000, b"cc")  # type 3: same extended delta
    data = b"".join(encoder.encode(m) for m in (first, second, third))
    assert ChunkDecoder().feed(data) == [first, second, third]
    assert feed_bytewise(ChunkDecoder(), data) == [first, second, third]


def test_timestamps_wrap_modulo_2_to_32() -> None:
    start = 0xFFFFFFF0
    data = (bytes.fromhex("06 ffffff 000001 09 01000000") + start.to_bytes(4, "big") + b"a"
            + bytes.fromhex("86 000020") + b"b")
    messages = ChunkDecoder().feed(data)
    assert [m.timestamp for m in messages] == [start, 0x10]


def test_unwrapper_continues_across_the_wrap_and_tolerates_small_steps_back() -> None:
    unwrap = TimestampUnwrapper()
    values = [0xFFFFFF00, 0xFFFFFFF0, 0x10, 0x8, 0x100]
    assert [unwrap.unwrap(v) for v in values] == [
        0xFFFFFF00, 0xFFFFFFF0, 0x100000010, 0x100000008, 0x100000100]


# -- errors -------------------------------------------------------------------------------


def test_oversized_message_raises_chunk_error() -> None:
    decoder = ChunkDecoder(max_message_size=1000)
    header = bytes.fromhex("06 000000 0003e9 09 01000000")
    with pytest.raises(ChunkError, match="exceeds"):
        decoder.feed(header)


def test_first_chunk_of_a_stream_must_be_type0() -> None:
    with pytest.raises(ChunkError, match="starts with a type 1"):
        ChunkDecoder().feed(bytes.fromhex("46 000000 000001 09") + b"x")
    with pytest.raises(ChunkError):
        ChunkDecoder().feed(b"\xc6x")


def test_new_header_while_a_message_is_incomplete_raises() -> None:
    partial = ChunkEncoder(128).encode(RtmpMessage(6, VIDEO, 1, 0, bytes(300)))[: 12 + 128]
    with pytest.raises(ChunkError, match="incomplete"):
        ChunkDecoder().feed(partial + bytes.fromhex("86 000010"))


def test_invalid_chunk_sizes() -> None:
    with pytest.raises(ChunkError):
        ChunkDecoder().feed(bytes.fromhex("02 000000 000004 01 00000000 00000000"))
    with pytest.raises(ChunkError, match="too short"):
        ChunkDecoder().feed(bytes.fromhex("02 000000 000002 01 00000000 0001"))
    with pytest.raises(ChunkError):
        ChunkEncoder(0)


def test_encoder_rejects_bad_chunk_stream_ids() -> None:
    with pytest.raises(ChunkError):
        ChunkEncoder().encode(RtmpMessage(1, 20, 0, 0, b""))
    with pytest.raises(ChunkError):
        ChunkEncoder().encode(RtmpMessage(65600, 20, 0, 0, b""))


def test_empty_message() -> None:
    message = RtmpMessage(3, 20, 0, 0, b"")
    assert ChunkDecoder().feed(ChunkEncoder().encode(message)) == [message]


def test_fuzz_random_bytes_only_raise_chunk_error() -> None:
    rng = random.Random(65599)
    valid, _, _ = _stream(ChunkEncoder(128))
    for _ in range(400):
        decoder = ChunkDecoder(max_message_size=4096)
        if rng.random() < 0.5:
            data = bytearray(rng.randbytes(rng.randrange(1, 400)))
        else:  # a valid stream with a few bytes flipped
            data = bytearray(valid[: rng.randrange(1, 3000)])
            for _ in range(3):
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            for start in range(0, len(data), 37):
                decoder.feed(bytes(data[start : start + 37]))
        except ChunkError:
            pass
        assert decoder.buffered <= 4096 + 18
