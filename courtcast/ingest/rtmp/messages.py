"""RTMP message types, protocol control messages and the command messages a server sends."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from courtcast.ingest.rtmp import amf0
from courtcast.ingest.rtmp.amf0 import AmfValue
from courtcast.ingest.rtmp.chunk import RtmpMessage

# Chunk streams the server sends on (any id >= 2 works; these are what FMS uses).
CONTROL_CSID: Final = 2
COMMAND_CSID: Final = 3
STREAM_CSID: Final = 5

_U32 = struct.Struct(">I")
_USER_CONTROL = struct.Struct(">HI")


class MessageType(IntEnum):
    SET_CHUNK_SIZE = 1
    ABORT = 2
    ACKNOWLEDGEMENT = 3
    USER_CONTROL = 4
    WINDOW_ACK_SIZE = 5
    SET_PEER_BANDWIDTH = 6
    AUDIO = 8
    VIDEO = 9
    DATA_AMF3 = 15
    SHARED_OBJECT_AMF3 = 16
    COMMAND_AMF3 = 17
    DATA_AMF0 = 18
    SHARED_OBJECT_AMF0 = 19
    COMMAND_AMF0 = 20
    AGGREGATE = 22


class UserControlEvent(IntEnum):
    STREAM_BEGIN = 0
    STREAM_EOF = 1
    STREAM_DRY = 2
    SET_BUFFER_LENGTH = 3
    STREAM_IS_RECORDED = 4
    PING_REQUEST = 6
    PING_RESPONSE = 7


class PeerBandwidthLimit(IntEnum):
    HARD = 0
    SOFT = 1
    DYNAMIC = 2


# onStatus codes
CONNECT_SUCCESS: Final = "NetConnection.Connect.Success"
PUBLISH_START: Final = "NetStream.Publish.Start"
PUBLISH_BAD_NAME: Final = "NetStream.Publish.BadName"
PUBLISH_UNAUTHORIZED: Final = "NetStream.Publish.Unauthorized"
PUBLISH_FAILED: Final = "NetStream.Publish.Failed"
UNPUBLISH_SUCCESS: Final = "NetStream.Unpublish.Success"
PLAY_FAILED: Final = "NetStream.Play.Failed"


class MessageError(ValueError):
    """A control or command message body is malformed."""


# -- parsing ----------------------------------------------------------------------------


def parse_u32(payload: bytes, what: str = "control message") -> int:
    """Body of Set Chunk Size, Abort, Acknowledgement and Window Acknowledgement Size."""
    if len(payload) < 4:
        raise MessageError(f"{what} of {len(payload)} bytes, need 4")
    return int(_U32.unpack_from(payload)[0])


def parse_user_control(payload: bytes) -> tuple[int, bytes]:
    """Return the event type and its data."""
    if len(payload) < 2:
        raise MessageError("user control message shorter than its event type")
    return int.from_bytes(payload[:2], "big"), payload[2:]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    transaction_id: float
    command_object: AmfValue
    args: tuple[AmfValue, ...]


def _amf_values(message: RtmpMessage) -> list[AmfValue]:
    payload = message.payload
    amf3 = message.type_id in (MessageType.COMMAND_AMF3, MessageType.DATA_AMF3)
    if amf3 and payload[:1] == b"\0":
        payload = payload[1:]  # AMF3 messages start with a format byte, then (usually) AMF0
    try:
        return amf0.decode(payload)
    except amf0.AmfError as exc:
        raise MessageError(f"message type {message.type_id}: {exc}") from exc


def parse_command(message: RtmpMessage) -> Command:
    """A command message (type 20, or 17 with AMF0 values): name, transaction id, object, args."""
    values = _amf_values(message)
    if len(values) < 2 or not isinstance(values[0], str):
        raise MessageError("command message without a name and transaction id")
    tid = values[1]
    if isinstance(tid, bool) or not isinstance(tid, float):
        raise MessageError(f"command {values[0]!r} has a non-numeric transaction id")
    command_object = values[2] if len(values) > 2 else None
    return Command(values[0], tid, command_object, tuple(values[3:]))


def parse_data(message: RtmpMessage) -> tuple[str, tuple[AmfValue, ...]]:
    """A data message (type 18/15): handler name ("@setDataFrame", "onMetaData") and values."""
    values = _amf_values(message)
    if not values or not isinstance(values[0], str):
        raise MessageError("data message without a handler name")
    return values[0], tuple(values[1:])


# -- protocol control messages ----------------------------------------------------------


def _control(type_id: MessageType, payload: bytes) -> RtmpMessage:
    return RtmpMessage(CONTROL_CSID, type_id, 0, 0, payload)


def set_chunk_size(size: int) -> RtmpMessage:
    return _control(MessageType.SET_CHUNK_SIZE, _U32.pack(size & 0x7FFFFFFF))


def abort(csid: int) -> RtmpMessage:
    return _control(MessageType.ABORT, _U32.pack(csid))


def acknowledgement(sequence_number: int) -> RtmpMessage:
    return _control(MessageType.ACKNOWLEDGEMENT, _U32.pack(sequence_number & 0xFFFFFFFF))


def window_ack_size(size: int) -> RtmpMessage:
    return _control(MessageType.WINDOW_ACK_SIZE, _U32.pack(size))


def set_peer_bandwidth(size: int, limit: PeerBandwidthLimit = PeerBandwidthLimit.DYNAMIC
                       ) -> RtmpMessage:
    return _control(MessageType.SET_PEER_BANDWIDTH, _U32.pack(size) + bytes((limit,)))


def user_control(event: UserControlEvent, value: int) -> RtmpMessage:
    return _control(MessageType.USER_CONTROL, _USER_CONTROL.pack(event, value & 0xFFFFFFFF))


def stream_begin(stream_id: int) -> RtmpMessage:
    return user_control(UserControlEvent.STREAM_BEGIN, stream_id)


def stream_eof(stream_id: int) -> RtmpMessage:
    return user_control(UserControlEvent.STREAM_EOF, stream_id)


def ping_request(timestamp: int) -> RtmpMessage:
    return user_control(UserControlEvent.PING_REQUEST, timestamp)


def ping_response(timestamp: int) -> RtmpMessage:
    return user_control(UserControlEvent.PING_RESPONSE, timestamp)


# -- commands ---------------------------------------------------------------------------


def command(name: str, transaction_id: float, command_object: AmfValue, *args: AmfValue,
            stream_id: int = 0, csid: int = COMMAND_CSID) -> RtmpMessage:
    payload = amf0.encode(name, transaction_id, command_object, *args)
    return RtmpMessage(csid, MessageType.COMMAND_AMF0, stream_id, 0, payload)


def result(transaction_id: float, properties: AmfValue = None,
           information: AmfValue = None) -> RtmpMessage:
    return command("_result", transaction_id, properties, information)


def error(transaction_id: float, code: str, description: str) -> RtmpMessage:
    return command("_error", transaction_id, None, _status_info("error", code, description))


def connect_success(transaction_id: float, object_encoding: float = 0.0) -> RtmpMessage:
    properties: dict[str, AmfValue] = {"fmsVer": "FMS/3,5,7,7009", "capabilities": 31.0,
                                       "mode": 1.0}
    information = _status_info("status", CONNECT_SUCCESS, "Connection succeeded.")
    information["objectEncoding"] = object_encoding
    return result(transaction_id, properties, information)


def create_stream_result(transaction_id: float, stream_id: int) -> RtmpMessage:
    # ffmpeg reads exactly: "_result", transaction id, null, number.
    return result(transaction_id, None, float(stream_id))


def _status_info(level: str, code: str, description: str) -> dict[str, AmfValue]:
    return {"level": level, "code": code, "description": description}


def on_status(stream_id: int, level: str, code: str, description: str,
              **details: AmfValue) -> RtmpMessage:
    """An onStatus event on a message stream; `level` is "status" or "error"."""
    info = _status_info(level, code, description)
    info.update(details)
    return command("onStatus", 0, None, info, stream_id=stream_id, csid=STREAM_CSID)


def on_fc_publish(code: str, description: str) -> RtmpMessage:
    return command("onFCPublish", 0, None, _status_info("status", code, description))


def on_bw_done() -> RtmpMessage:
    return command("onBWDone", 0, None, 8192.0)
