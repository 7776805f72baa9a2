"""The RTMP ingest server: accepts publishers, asks the authorizer, feeds their media to sinks.

Each TCP connection is one `RtmpConnection` task. Whatever goes wrong in a connection (protocol
errors, timeouts, a failing sink) ends that connection only, and a publisher's sink is always
closed so that what it already received is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from types import TracebackType
from typing import Final, NoReturn

from courtcast.ingest.publish import MediaSink, PublishAuthorizer, PublishRefused, PublishRequest
from courtcast.ingest.rtmp import messages as msg
from courtcast.ingest.rtmp.amf0 import UNDEFINED, AmfError, AmfValue
from courtcast.ingest.rtmp.chunk import (
    ChunkDecoder,
    ChunkEncoder,
    ChunkError,
    RtmpMessage,
    TimestampUnwrapper,
)
from courtcast.ingest.rtmp.flv import (
    CodedFrame,
    FlvError,
    SequenceHeader,
    UnsupportedCodec,
    parse_audio,
    parse_video,
    split_aggregate,
)
from courtcast.ingest.rtmp.handshake import HandshakeError, ServerHandshake
from courtcast.ingest.rtmp.messages import Command, MessageError, MessageType
from courtcast.ingest.rtmp.tracks import TrackAssembler
from courtcast.media import TrackInfo, TrackKind

log = logging.getLogger("courtcast.ingest.rtmp")

HIGH_WATER: Final = 1 << 20  # stop reading a socket while this much awaits processing
WINDOW_ACK_SIZE: Final = 2_500_000
OUT_CHUNK_SIZE: Final = 4096
STREAM_ID: Final = 1  # one publishing stream per connection
_MEDIA_TYPES: Final = frozenset((MessageType.AUDIO, MessageType.VIDEO))
_BAD_NAME_REFUSALS: Final = frozenset(("unknown_key", "bad_app", "bad_name", "busy"))


def redact_key(key: str) -> str:
    """Stream keys are secrets: logs show only enough to tell them apart."""
    return key[:4] + "…"


def _status_code(refusal: PublishRefused) -> str:
    if refusal.code.startswith("NetStream."):
        return refusal.code
    return msg.PUBLISH_BAD_NAME if refusal.code in _BAD_NAME_REFUSALS else msg.PUBLISH_UNAUTHORIZED


def _remote(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


class ProtocolViolation(Exception):
    """The client sent something out of order (e.g. media before publish)."""


_CLIENT_ERRORS: Final = (HandshakeError, ChunkError, AmfError, FlvError, MessageError,
                         ProtocolViolation)


class _Close(Exception):
    """End the connection; the message says why (already at the right log level)."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.level = level


class _SinkFailed(Exception):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class _Limits:
    handshake_timeout: float
    idle_timeout: float
    max_message_size: int
    read_coalesce: float


class RtmpServer:
    """Listens for RTMP publishers; `port=0` binds a free port (see the `port` property)."""

    def __init__(self, authorizer: PublishAuthorizer, *, host: str, port: int,
                 handshake_timeout: float = 10.0, idle_timeout: float = 30.0,
                 max_message_size: int = 8 * 1024 * 1024, max_connections: int = 1000,
                 read_coalesce: float = 0.2) -> None:
        self.authorizer = authorizer
        self.host = host
        self._port = port
        self.max_connections = max_connections
        self.limits = _Limits(handshake_timeout, idle_timeout, max_message_size, read_coalesce)
        self._server: asyncio.Server | None = None
        self._connections: set[RtmpConnection] = set()
        self._started_at = time.monotonic()

    @property
    def port(self) -> int:
        """The bound port once started (the real one when constructed with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def active_publishers(self) -> int:
        return sum(1 for connection in self._connections if connection.publishing)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def uptime_ms(self) -> int:
        return int((time.monotonic() - self._started_at) * 1000)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("RtmpServer already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Link(self), self.host, self._port)
        log.info("RTMP ingest listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop listening, end every connection and close every publisher's sink."""
        if self._server is not None:
            self._server.close()
        tasks = [connection.task for connection in self._connections]
        for connection in self._connections:
            if not connection.finishing:  # never interrupt a sink that is already closing
                connection.task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RtmpServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def _open(self, link: _Link) -> None:
        """A client connected: run its connection as a task of its own."""
        if len(self._connections) >= self.max_connections:
            log.warning("rtmp %s: refused, %d connections already open", link.remote,
                        len(self._connections))
            link.close()
            return
        connection = RtmpConnection(self, link)
        self._connections.add(connection)
        connection.task.add_done_callback(lambda _: self._forget(connection, link))

    def _forget(self, connection: RtmpConnection, link: _Link) -> None:
        self._connections.discard(connection)
        link.close()  # in case the task was cancelled before it could run at all


class _Link(asyncio.Protocol):
    """Socket glue: queues received bytes for the connection task, with backpressure.

    Unlike asyncio.StreamReader, bytes that arrived before a connection reset are still
    delivered before the end: publishers that close abruptly (ffmpeg does, leaving our last
    replies unread, which makes the kernel send a reset) lose nothing.
    """

    def __init__(self, server: RtmpServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._reading_paused = False
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self.remote = "?"
        self.error: Exception | None = None  # why the connection was lost, if not a clean EOF

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.remote = _remote(transport.get_extra_info("peername"))
        self._server._open(self)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._closed = True
        self._wake()
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> bytes:
        """Everything received so far (waiting for something); b"" once the peer is gone."""
        while not self._chunks:
            if self._closed:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._size = 0
        if self._reading_paused and self._transport:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def pause(self) -> None:
        if self._transport is not None and not self._reading_paused:
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._transport is not None and not self._reading_paused:
            self._transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def drain(self) -> None:
        if self._drained is not None:
            await self._drained

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RtmpConnection:
    """One client: handshake, then commands, then (for an authorised publisher) media."""

    def __init__(self, server: RtmpServer, link: _Link) -> None:
        self._server = server
        self._limits = server.limits
        self._link = link
        self.remote = link.remote
        self._decoder = ChunkDecoder(max_message_size=self._limits.max_message_size)
        self._encoder = ChunkEncoder()
        self._app: str | None = None  # set by connect
        self._key = ""
        self._metadata: dict[str, AmfValue] = {}
        self._sink: MediaSink | None = None
        self._tracks: TrackAssembler | None = None
        self._unwrap = {kind: TimestampUnwrapper() for kind in TrackKind}
        self._unsupported: set[TrackKind] = set()
        self._ended = False
        self._received = 0
        self._last_ack = 0
        self._ack_window = WINDOW_ACK_SIZE  # until the client announces its own
        self.finishing = False
        # The connection serves from here on, as a task of its own.
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"rtmp {self.remote}")

    @property
    def publishing(self) -> bool:
        return self._sink is not None

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._serve(await self._handshake())
            log.info("rtmp %s: %s", self.remote, self._end_reason())
        except _Close as exc:
            log.log(exc.level, "rtmp %s: connection closed: %s", self.remote, exc)
        except _CLIENT_ERRORS as exc:
            log.warning("rtmp %s: protocol error, connection closed: %s", self.remote, exc)
        except _SinkFailed as exc:
            log.error("rtmp %s: the media sink failed, connection closed: %s", self.remote,
                      exc.__cause__, exc_info=exc.__cause__)
        except ConnectionError as exc:
            log.info("rtmp %s: connection lost: %s", self.remote, exc)
        except asyncio.CancelledError:
            log.info("rtmp %s: connection closed by the server", self.remote)
            raise
        except Exception:
            log.exception("rtmp %s: internal error, connection closed", self.remote)
        finally:
            await self._finish()

    def _end_reason(self) -> str:
        if self._ended:
            return "stream ended, connection closed"
        if self._link.error is not None:
            return f"connection lost: {self._link.error}"
        return "connection closed by the client"

    async def _finish(self) -> None:
        self.finishing = True
        if self._tracks is not None:
            try:
                self._tracks.flush()
            except Exception:
                log.exception("rtmp %s: the media sink failed while flushing", self.remote)
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                await sink.close()
            except Exception:
                log.exception("rtmp %s: closing the media sink failed", self.remote)
        self._link.close()

    async def _handshake(self) -> bytes:
        handshake = ServerHandshake(uptime_ms=self._server.uptime_ms())
        timeout = self._limits.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                while not handshake.complete:
                    data = await self._link.read()
                    if not data:
                        raise _Close("disconnected during the handshake")
                    reply = handshake.feed(data)
                    if reply:
                        self._link.write(reply)
                        await self._link.drain()
        except TimeoutError:
            raise _Close(f"no handshake within {timeout:g} s") from None
        log.debug("rtmp %s: handshake complete (%s)", self.remote,
                  "simple" if handshake.digest_scheme is None
                  else f"digest scheme {handshake.digest_scheme}")
        return handshake.take_remaining()

    async def _serve(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        idle = self._limits.idle_timeout
        try:
            async with asyncio.timeout(idle) as deadline:
                while True:
                    if data:
                        await self._process(data)
                        if self._ended:
                            return
                        if self._sink is not None:
                            await self._coalesce()
                    data = await self._link.read()
                    if not data:
                        return
                    deadline.reschedule(loop.time() + idle)
        except TimeoutError:
            raise _Close(f"nothing received for {idle:g} s") from None

    async def _coalesce(self) -> None:
        """Let a real-time publisher's small writes gather in the kernel for a moment.

        Encoders send one chunk at a time; reading each on its own costs a wake-up of this
        task per few kilobytes. Pausing briefly turns dozens of reads into one, for at most
        `read_coalesce` seconds of latency on segments that last seconds.
        """
        self._link.pause()
        try:
            await asyncio.sleep(self._limits.read_coalesce)
        finally:
            self._link.resume()

    async def _process(self, data: bytes) -> None:
        self._received += len(data)
        if self._received - self._last_ack >= self._ack_window:
            self._last_ack = self._received
            self._send(msg.acknowledgement(self._received))
        for message in self._decoder.feed(data):
            if message.type_id in _MEDIA_TYPES:
                self._on_media(message.type_id, message.timestamp, message.payload)
            else:
                await self._on_message(message)
                if self._ended:
                    return

    def _send(self, message: RtmpMessage) -> None:
        self._link.write(self._encoder.encode(message))

    # -- control and commands -------------------------------------------------------------

    async def _on_message(self, message: RtmpMessage) -> None:
        kind = message.type_id
        if kind in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            await self._on_command(msg.parse_command(message), message.stream_id)
        elif kind in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            self._on_data(message)
        elif kind == MessageType.AGGREGATE:
            for type_id, timestamp, body in split_aggregate(message.payload, message.timestamp):
                if type_id in _MEDIA_TYPES:
                    self._on_media(type_id, timestamp & 0xFFFFFFFF, body)
        elif kind == MessageType.WINDOW_ACK_SIZE:
            self._ack_window = max(1, msg.parse_u32(message.payload, "window ack size"))
        elif kind == MessageType.USER_CONTROL:
            event, data = msg.parse_user_control(message.payload)
            if event == msg.UserControlEvent.PING_REQUEST and len(data) >= 4:
                self._send(msg.ping_response(int.from_bytes(data[:4], "big")))
        # Set Chunk Size and Abort are applied by the decoder; acknowledgements, peer bandwidth
        # and shared objects need nothing from an ingest server.

    async def _on_command(self, command: Command, stream_id: int) -> None:
        name = command.name
        if name == "connect":
            await self._connect(command)
            return
        if self._app is None:
            raise ProtocolViolation(f"{name!r} before connect")
        if name in ("releaseStream", "FCPublish"):
            self._send(msg.result(command.transaction_id, None, UNDEFINED))
        elif name == "createStream":
            self._send(msg.create_stream_result(command.transaction_id, STREAM_ID))
        elif name == "publish":
            await self._publish(command, stream_id or STREAM_ID)
        elif name in ("FCUnpublish", "deleteStream", "closeStream"):
            self._ended = True  # all media precedes these: an orderly end loses nothing
        elif name == "play":
            await self._refuse_play(stream_id)
        elif command.transaction_id:
            self._send(msg.error(command.transaction_id, "NetConnection.Call.Failed",
                                 f"unsupported command {name!r}"))
        await self._link.drain()

    async def _connect(self, command: Command) -> None:
        if self._app is not None:
            raise ProtocolViolation("connect sent twice")
        params = command.command_object if isinstance(command.command_object, dict) else {}
        app = params.get("app")
        self._app = app.strip("/") if isinstance(app, str) else ""
        encoding = params.get("objectEncoding")
        self._send(msg.window_ack_size(WINDOW_ACK_SIZE))
        self._send(msg.set_peer_bandwidth(WINDOW_ACK_SIZE))
        self._send(msg.set_chunk_size(OUT_CHUNK_SIZE))
        self._encoder.chunk_size = OUT_CHUNK_SIZE
        self._send(msg.connect_success(command.transaction_id,
                                       encoding if isinstance(encoding, float) else 0.0))
        await self._link.drain()

    async def _publish(self, command: Command, stream_id: int) -> None:
        if self._sink is not None:
            raise ProtocolViolation("publish while already publishing")
        key = command.args[0] if command.args else None
        if not isinstance(key, str) or not key:
            refusal = PublishRefused("bad_name", "a stream key is required")
            await self._refuse(stream_id, "", refusal)
        self._key = key
        request = PublishRequest("rtmp", self._key, self.remote, self._app or "")
        try:
            sink = await self._server.authorizer.begin_publish(request)
        except PublishRefused as refusal:
            await self._refuse(stream_id, self._key, refusal)
        except Exception as exc:
            log.exception("rtmp %s: the authorizer failed for key %s", self.remote,
                          redact_key(self._key))
            self._send(msg.on_status(stream_id, "error", msg.PUBLISH_FAILED,
                                     "internal error, try again later"))
            await self._link.drain()
            raise _Close("authorizer failed", logging.DEBUG) from exc
        self._sink = sink
        self._tracks = TrackAssembler(sink)
        self._apply_metadata()
        self._send(msg.stream_begin(stream_id))
        # Nothing unsolicited follows (no onFCPublish, no onBWDone): ffmpeg reads what we send only
        # now and then, and a message still unread when it closes makes its kernel reset the
        # connection and drop the tail of the stream not sent yet (seen with onFCPublish).
        self._send(msg.on_status(stream_id, "status", msg.PUBLISH_START, "Publishing started."))
        log.info("rtmp %s: publishing with key %s (app %r)", self.remote, redact_key(self._key),
                 self._app)

    async def _refuse(self, stream_id: int, key: str, refusal: PublishRefused) -> NoReturn:
        self._send(msg.on_status(stream_id, "error", _status_code(refusal), refusal.message))
        await self._link.drain()
        raise _Close(f"publish refused for key {redact_key(key)} ({refusal.code}): "
                     f"{refusal.message}", logging.WARNING)

    async def _refuse_play(self, stream_id: int) -> NoReturn:
        self._send(msg.on_status(stream_id or STREAM_ID, "error", msg.PLAY_FAILED,
                                 "RTMP playback is not offered; watch on the portal (HLS)"))
        await self._link.drain()
        raise _Close("play requested; RTMP playback is not offered")

    # -- metadata and media ---------------------------------------------------------------

    def _on_data(self, message: RtmpMessage) -> None:
        handler, values = msg.parse_data(message)
        if handler == "@setDataFrame" and values[:1] == ("onMetaData",):
            values = values[1:]
        elif handler != "onMetaData":
            return
        if values and isinstance(values[0], dict):
            self._metadata = values[0]
            self._apply_metadata()

    def _apply_metadata(self) -> None:
        meta, tracks = self._metadata, self._tracks
        if tracks is None or not ("videocodecid" in meta or "audiocodecid" in meta):
            return  # without either key the metadata says nothing about the tracks
        try:
            for kind, key in ((TrackKind.VIDEO, "videocodecid"),
                              (TrackKind.AUDIO, "audiocodecid")):
                if kind not in self._unsupported:
                    tracks.expect(kind, meta.get(key) not in (None, UNDEFINED, 0.0, "", False))
        except PublishRefused as refusal:
            # The consumer stopped this publisher (hearing ended, media it cannot take).
            level = logging.INFO if refusal.code == "ended" else logging.WARNING
            raise _Close(f"publishing stopped: {refusal.message}", level) from refusal
        except Exception as exc:
            raise _SinkFailed(str(exc)) from exc

    def _on_media(self, type_id: int, timestamp: int, body: bytes) -> None:
        tracks = self._tracks
        if tracks is None:
            raise ProtocolViolation("media received before a successful publish")
        if type_id == MessageType.VIDEO:
            result = parse_video(body, self._unwrap[TrackKind.VIDEO].unwrap(timestamp))
        else:
            result = parse_audio(body, self._unwrap[TrackKind.AUDIO].unwrap(timestamp))
        try:
            if type(result) is CodedFrame:
                tracks.packet(result.packet)
            elif type(result) is SequenceHeader:
                tracks.header(self._with_metadata(result.track))
            elif type(result) is UnsupportedCodec:
                self._on_unsupported(tracks, result)
        except PublishRefused as refusal:
            # The consumer stopped this publisher (hearing ended, media it cannot take).
            level = logging.INFO if refusal.code == "ended" else logging.WARNING
            raise _Close(f"publishing stopped: {refusal.message}", level) from refusal
        except Exception as exc:
            raise _SinkFailed(str(exc)) from exc

    def _on_unsupported(self, tracks: TrackAssembler, result: UnsupportedCodec) -> None:
        if result.kind in self._unsupported:
            return
        self._unsupported.add(result.kind)
        log.warning("rtmp %s: key %s sends %s %s, which is not supported; that track is dropped",
                    self.remote, redact_key(self._key), result.kind, result.codec)
        tracks.expect(result.kind, False)

    def _with_metadata(self, track: TrackInfo) -> TrackInfo:
        """Fill what the sequence header lacks (frame rate, bit rate) from the metadata."""
        meta = self._metadata

        def number(key: str) -> float:
            value = meta.get(key)
            return value if isinstance(value, float) and value > 0 else 0.0

        if track.kind == TrackKind.VIDEO:
            return dataclasses.replace(
                track,
                width=track.width or int(number("width")),
                height=track.height or int(number("height")),
                frame_rate=track.frame_rate or number("framerate") or number("videoframerate"),
                bit_rate=track.bit_rate or int(number("videodatarate") * 1000))
        return dataclasses.replace(track, bit_rate=track.bit_rate or
                                   int(number("audiodatarate") * 1000))
