"""A minimal RTMP publisher built from the project's own protocol layers, for server tests.

It drives the server through situations ffmpeg never produces on demand (timestamp wraps,
configuration changes, misbehaviour); ffmpeg itself is the real-publisher check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from courtcast.ingest.rtmp import amf0
from courtcast.ingest.rtmp import messages as msg
from courtcast.ingest.rtmp.amf0 import AmfValue
from courtcast.ingest.rtmp.chunk import ChunkDecoder, ChunkEncoder, RtmpMessage
from courtcast.ingest.rtmp.handshake import PACKET_SIZE
from courtcast.ingest.rtmp.messages import MessageType

AVCC = bytes.fromhex(
    "0164001effe1001a6764001eacd940a02ff97011000003000100000300320f162d9601000668ebe3cb22c0fdf8f800")
ASC = bytes.fromhex("1210")


def avc_header(avcc: bytes = AVCC) -> bytes:
    return b"\x17\x00\x00\x00\x00" + avcc


def avc_frame(data: bytes, *, key: bool = False, cto: int = 0) -> bytes:
    return (b"\x17" if key else b"\x27") + b"\x01" + cto.to_bytes(3, "big", signed=True) + data


def aac_header(asc: bytes = ASC) -> bytes:
    return b"\xaf\x00" + asc


def aac_frame(data: bytes) -> bytes:
    return b"\xaf\x01" + data


def info_object(command: list[AmfValue]) -> dict[str, AmfValue]:
    """The information object (4th value) of a _result, _error or onStatus command."""
    info = command[3]
    assert isinstance(info, dict), command
    return info


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.encoder = ChunkEncoder()
        self.decoder = ChunkDecoder()
        self.inbox: list[RtmpMessage] = []
        self.stream_id = 1

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def handshake(self) -> None:
        c1 = bytes(8) + os.urandom(PACKET_SIZE - 8)
        self.writer.write(b"\x03" + c1)
        reply = await asyncio.wait_for(self.reader.readexactly(1 + 2 * PACKET_SIZE), 5)
        assert reply[0] == 3 and reply[1 + PACKET_SIZE :] == c1
        self.writer.write(reply[1 : 1 + PACKET_SIZE])

    def send(self, message: RtmpMessage) -> None:
        self.writer.write(self.encoder.encode(message))

    def command(self, name: str, tid: float, obj: AmfValue, *args: AmfValue,
                stream_id: int = 0) -> None:
        self.send(msg.command(name, tid, obj, *args, stream_id=stream_id))

    def media(self, type_id: int, timestamp: int, body: bytes) -> None:
        csid = 6 if type_id == MessageType.VIDEO else 4
        self.send(RtmpMessage(csid, type_id, self.stream_id, timestamp, body))

    def video(self, timestamp: int, body: bytes) -> None:
        self.media(MessageType.VIDEO, timestamp, body)

    def audio(self, timestamp: int, body: bytes) -> None:
        self.media(MessageType.AUDIO, timestamp, body)

    def metadata(self, **fields: AmfValue) -> None:
        payload = amf0.encode("@setDataFrame", "onMetaData", amf0.EcmaArray(fields))
        self.send(RtmpMessage(4, MessageType.DATA_AMF0, self.stream_id, 0, payload))

    async def recv(self, seconds: float = 5.0) -> RtmpMessage:
        while not self.inbox:
            data = await asyncio.wait_for(self.reader.read(65536), seconds)
            if not data:
                raise ConnectionError("server closed the connection")
            self.inbox.extend(self.decoder.feed(data))
        return self.inbox.pop(0)

    async def expect_command(self, name: str) -> list[AmfValue]:
        while True:
            message = await self.recv()
            if message.type_id == MessageType.COMMAND_AMF0:
                values = amf0.decode(message.payload)
                if values[0] == name:
                    return values

    async def start_publish(self, key: str, app: str = "live") -> dict[str, AmfValue]:
        """connect, createStream, publish; return the onStatus information object."""
        await self.handshake()
        self.command("connect", 1.0, {"app": app, "tcUrl": f"rtmp://127.0.0.1/{app}"})
        await self.expect_command("_result")
        self.command("createStream", 2.0, None)
        result = await self.expect_command("_result")
        stream_id = result[3]
        assert isinstance(stream_id, float)
        self.stream_id = int(stream_id)
        self.command("publish", 3.0, None, key, "live", stream_id=self.stream_id)
        return info_object(await self.expect_command("onStatus"))

    async def closed_by_server(self, seconds: float = 5.0) -> bool:
        """Read until the server closes the connection; False if it stays open."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
