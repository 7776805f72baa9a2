from __future__ import annotations

import contextlib
import random

import pytest

from courtcast.ingest.rtmp import amf0
from courtcast.ingest.rtmp import messages as msg
from courtcast.ingest.rtmp.amf0 import UNDEFINED
from courtcast.ingest.rtmp.chunk import ChunkDecoder, ChunkEncoder, RtmpMessage
from courtcast.ingest.rtmp.messages import Command, MessageError, MessageType, UserControlEvent


def test_protocol_control_messages_bytes() -> None:
    assert msg.set_chunk_size(4096) == RtmpMessage(2, 1, 0, 0, b"\x00\x00\x10\x00")
    assert msg.abort(6).payload == b"\x00\x00\x00\x06"
    assert msg.acknowledgement(2**32 + 5).payload == b"\x00\x00\x00\x05"
    assert msg.window_ack_size(2_500_000) == RtmpMessage(2, 5, 0, 0, b"\x00\x26\x25\xa0")
    assert msg.set_peer_bandwidth(2_500_000).payload == b"\x00\x26\x25\xa0\x02"
    assert msg.stream_begin(1) == RtmpMessage(2, 4, 0, 0, b"\x00\x00\x00\x00\x00\x01")
    assert msg.stream_eof(1).payload == b"\x00\x01\x00\x00\x00\x01"
    assert msg.ping_request(7).payload == b"\x00\x06\x00\x00\x00\x07"
    assert msg.ping_response(7).payload == b"\x00\x07\x00\x00\x00\x07"


def test_message_type_ids() -> None:
    assert [t.value for t in MessageType] == [1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22]
    assert int(UserControlEvent.PING_RESPONSE) == 7


def test_connect_success() -> None:
    message = msg.connect_success(1.0)
    assert (message.csid, message.type_id, message.stream_id) == (3, 20, 0)
    name, tid, properties, info = amf0.decode(message.payload)
    assert (name, tid) == ("_result", 1.0)
    assert isinstance(properties, dict) and properties["fmsVer"]
    assert info == {"level": "status", "code": "NetConnection.Connect.Success",
                    "description": "Connection succeeded.", "objectEncoding": 0.0}


def test_create_stream_result_has_the_layout_ffmpeg_reads() -> None:
    payload = msg.create_stream_result(4.0, 1).payload
    assert payload == amf0.encode("_result", 4.0, None, 1.0)


def test_on_status() -> None:
    message = msg.on_status(1, "error", msg.PUBLISH_BAD_NAME, "unknown stream key")
    assert (message.csid, message.stream_id) == (msg.STREAM_CSID, 1)
    assert amf0.decode(message.payload) == [
        "onStatus", 0.0, None,
        {"level": "error", "code": "NetStream.Publish.BadName",
         "description": "unknown stream key"}]
    detailed = msg.on_status(1, "status", msg.PUBLISH_START, "ok", details="key")
    assert amf0.decode(detailed.payload)[3] == {
        "level": "status", "code": "NetStream.Publish.Start", "description": "ok",
        "details": "key"}


def test_other_commands() -> None:
    assert amf0.decode(msg.result(2.0, None, UNDEFINED).payload) == ["_result", 2.0, None,
                                                                      UNDEFINED]
    assert amf0.decode(msg.error(3.0, "NetConnection.Call.Failed", "no").payload)[3] == {
        "level": "error", "code": "NetConnection.Call.Failed", "description": "no"}
    assert amf0.decode(msg.on_fc_publish(msg.PUBLISH_START, "go").payload)[0] == "onFCPublish"
    assert amf0.decode(msg.on_bw_done().payload)[0] == "onBWDone"


def test_parse_command() -> None:
    message = msg.command("publish", 5.0, None, "streamkey", "live", stream_id=1)
    assert msg.parse_command(message) == Command("publish", 5.0, None, ("streamkey", "live"))
    short = RtmpMessage(3, 20, 0, 0, amf0.encode("deleteStream", 0.0))
    assert msg.parse_command(short) == Command("deleteStream", 0.0, None, ())


def test_parse_amf3_command_with_format_byte() -> None:
    message = RtmpMessage(3, 17, 0, 0, b"\x00" + amf0.encode("createStream", 2.0, None))
    assert msg.parse_command(message).name == "createStream"


def test_parse_data() -> None:
    meta = amf0.EcmaArray(videocodecid=7.0, audiocodecid=10.0)
    message = RtmpMessage(4, 18, 1, 0, amf0.encode("@setDataFrame", "onMetaData", meta))
    assert msg.parse_data(message) == ("@setDataFrame", ("onMetaData", meta))


@pytest.mark.parametrize(
    "payload",
    [b"", amf0.encode(1.0, 2.0), amf0.encode("connect"), amf0.encode("connect", "1"),
     amf0.encode("connect", True), b"\x02\x00\x07conn"],
)
def test_malformed_commands_raise_message_error(payload: bytes) -> None:
    with pytest.raises(MessageError):
        msg.parse_command(RtmpMessage(3, 20, 0, 0, payload))


def test_malformed_control_messages_raise_message_error() -> None:
    with pytest.raises(MessageError):
        msg.parse_u32(b"\x00\x01")
    with pytest.raises(MessageError):
        msg.parse_user_control(b"\x00")
    with pytest.raises(MessageError):
        msg.parse_data(RtmpMessage(4, 18, 1, 0, amf0.encode(1.0)))
    assert msg.parse_user_control(b"\x00\x06\x00\x00\x00\x09") == (6, b"\x00\x00\x00\x09")


def test_builders_survive_the_chunk_layer() -> None:
    outgoing = [msg.window_ack_size(5000), msg.set_peer_bandwidth(5000), msg.set_chunk_size(4096),
                msg.connect_success(1.0), msg.create_stream_result(2.0, 1), msg.stream_begin(1),
                msg.on_status(1, "status", msg.PUBLISH_START, "x" * 5000)]
    encoder = ChunkEncoder()
    data = b""
    for message in outgoing:
        data += encoder.encode(message)
        if message.type_id == MessageType.SET_CHUNK_SIZE:
            encoder.chunk_size = 4096
    assert ChunkDecoder().feed(data) == outgoing


def test_fuzz_parsers_only_raise_message_error() -> None:
    rng = random.Random(20)
    for _ in range(2000):
        payload = rng.randbytes(rng.randrange(0, 30))
        if rng.random() < 0.5:
            payload = b"\x02\x00\x04play" + payload
        for type_id in (17, 18, 20):
            message = RtmpMessage(3, type_id, 0, 0, payload)
            for parse in (msg.parse_command, msg.parse_data):
                with contextlib.suppress(MessageError):
                    parse(message)
