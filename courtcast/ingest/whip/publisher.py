"""One WHIP session: a browser's or encoder's peer connection feeding a hearing's MediaSink.

H.264 passes through: Annex-B access units become AVCC samples, SPS/PPS become avcC, and a PLI
asks the publisher for an IDR at each segment boundary (browsers otherwise send one only at the
start). VP8 and VP9 (profile 0 or 2; `peer` assembles VP9 pictures from RTP, aiortc cannot)
are transcoded to H.264 and Opus to AAC in worker threads; the transcoder forces an IDR every
segment, so no PLIs are needed for them. The session ends on DELETE, ICE failure, silence or a
sink that refuses more media; the sink is always closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame

from courtcast.ingest.publish import MediaSink, PublishRefused
from courtcast.ingest.whip import peer
from courtcast.ingest.whip.feed import Feed
from courtcast.ingest.whip.h264 import AnnexBToAvcc
from courtcast.ingest.whip.ice import IceSettings
from courtcast.ingest.whip.sdp import Offer, Purpose
from courtcast.ingest.whip.transcode import (
    AUDIO_TIME_BASE,
    VIDEO_RATE,
    VIDEO_TIME_BASE,
    Encoded,
    Offload,
    OpusToAac,
    VpxToH264,
)
from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.codecs import CodecConfigError, video_geometry

log = logging.getLogger("courtcast.ingest.whip")

KEYFRAME_LEAD: Final = 0.04  # ask this much before the boundary: the IDR is the next frame
KEYFRAME_RETRY: Final = 0.5  # ask again if no IDR came (lost PLI, busy encoder)
WATCH_INTERVAL: Final = 1.0


@dataclass(frozen=True, slots=True)
class SessionLimits:
    segment_seconds: float = 2.0
    connect_timeout: float = 30.0  # from the answer to ICE+DTLS connected
    idle_timeout: float = 30.0  # no media for this long ends the session


class KeyframeSchedule:
    """When to send a PLI so that IDRs arrive at every segment boundary (pure).

    Boundaries follow the IDRs that cut segments; an extra IDR (a monitor joining) does not
    move them, so segment lengths stay regular.
    """

    def __init__(self, interval: float, rate: int = VIDEO_RATE) -> None:
        self._interval = round(interval * rate)
        self._lead = round(KEYFRAME_LEAD * rate)
        self._retry = round(KEYFRAME_RETRY * rate)
        self._boundary: int | None = None  # timestamp of the last boundary IDR
        self._asked: int | None = None

    def on_frame(self, ts: int, keyframe: bool) -> bool:
        """Whether to send a PLI now, after a frame with timestamp `ts`."""
        due = self._boundary is None or ts >= self._boundary + self._interval - self._lead
        if keyframe and due:
            self._boundary, self._asked = ts, None
            return False
        if not due or keyframe:
            return False
        if self._asked is not None and ts - self._asked < self._retry:
            return False
        self._asked = ts
        return True


class WhipPublisher:
    """Owns the peer connection of one publisher and the sink it feeds."""

    def __init__(self, session_id: str, sink: MediaSink, offer: Offer, settings: IceSettings,
                 limits: SessionLimits, on_closed: Callable[[WhipPublisher], None]) -> None:
        self.id = session_id
        self._sink = sink
        self._settings = settings
        self._limits = limits
        self._on_closed = on_closed
        kinds = offer.flowing(Purpose.PUBLISH)
        self.feed = Feed(sink, [TrackKind(kind) for kind in kinds])
        self.pc = peer.new_peer(settings)
        self._video = AnnexBToAvcc()
        self._keys = KeyframeSchedule(limits.segment_seconds)
        self._video_receiver: RTCRtpReceiver | None = None
        self._transcoding: tuple[VpxToH264, Offload[list[Encoded]]] | None = None
        self._opus: tuple[OpusToAac, Offload[list[Encoded]]] | None = None
        self._last_media = time.monotonic()
        self._closing: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.codecs: dict[str, str] = {}
        self.frames = 0
        if "video" in kinds:  # made before the offer is applied: H.264, then VP8, then VP9
            self.pc.addTransceiver("video", direction="recvonly").setCodecPreferences(
                peer.h264_first("video"))

    # -- negotiation ------------------------------------------------------------------------

    async def negotiate(self, offer_sdp: str) -> str:
        """Apply the offer; returns the SDP answer. Media flows once ICE+DTLS connect."""
        self.pc.on("connectionstatechange", self._on_state)
        answer = await peer.answer(self.pc, offer_sdp, self._settings)
        for transceiver in self.pc.getTransceivers():
            peer.tap_receiver(transceiver.receiver, self._frame_handler(transceiver.kind))
            if transceiver.kind == "video":
                self._video_receiver = transceiver.receiver
        self._watchdog = asyncio.create_task(self._watch(), name=f"whip-{self.id[:8]}")
        return answer

    def _frame_handler(self, kind: str) -> peer.FrameCallback:
        return lambda codec, frame: self._on_frame(kind, codec, frame)

    def _on_state(self) -> None:
        state = self.pc.connectionState
        log.info("whip %s: connection %s", self.id[:8], state)
        if state in ("failed", "closed"):
            self.close_soon(f"connection {state}")

    async def _watch(self) -> None:
        """Ends sessions that never connect or go silent."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            if self.pc.connectionState != "connected" \
                    and now - started > self._limits.connect_timeout:
                self.close_soon("no connection (ICE/DTLS) within "
                                f"{self._limits.connect_timeout:g} s")
                return
            if self.frames and now - self._last_media > self._limits.idle_timeout:
                self.close_soon(f"no media for {self._limits.idle_timeout:g} s")
                return

    # -- media ------------------------------------------------------------------------------

    def _on_frame(self, kind: str, codec: str, frame: JitterFrame) -> None:
        if self._closing is not None:
            return
        now = self._last_media = time.monotonic()
        self.frames += 1
        self.codecs[kind] = codec
        try:
            if kind == "video":
                self.feed.observe(TrackKind.VIDEO, frame.timestamp, VIDEO_TIME_BASE, now)
                if codec == "H264":
                    self._on_h264(frame.data, frame.timestamp, now)
                else:
                    self._transcode_video(frame, codec)
            else:
                self.feed.observe(TrackKind.AUDIO, frame.timestamp, AUDIO_TIME_BASE, now)
                self._transcode_opus(frame)
        except PublishRefused as refusal:
            self.close_soon(f"publishing stopped: {refusal.message}")

    def _on_h264(self, annexb: bytes, ts: int, now: float) -> None:
        unit = self._video.convert(annexb)
        if unit is None:
            return
        if unit.config is not None:
            self.feed.configure(self._video_track(unit.config), now)
        if not self._video.config:
            self._ask_keyframe()  # joined mid-GOP (or the IDR was lost): nothing decodable yet
            return
        self.feed.frame(TrackKind.VIDEO, ts, unit.data, unit.keyframe, VIDEO_TIME_BASE, now)
        if self._transcoding is None and self._keys.on_frame(ts, unit.keyframe):
            self._ask_keyframe()

    @staticmethod
    def _video_track(config: bytes) -> TrackInfo:
        track = TrackInfo(TrackKind.VIDEO, "h264", config, VIDEO_TIME_BASE)
        try:
            geometry = video_geometry(track)
        except CodecConfigError:
            geometry = None
        if geometry is None:
            return track
        return TrackInfo(TrackKind.VIDEO, "h264", config, VIDEO_TIME_BASE,
                         width=geometry.width, height=geometry.height)

    def _transcode_video(self, frame: JitterFrame, codec: str) -> None:
        """VP8 or VP9 ("VP8", "VP9": the FFmpeg decoder's name in lower case) to H.264."""
        if self._transcoding is None:
            if isinstance(frame, peer.Vp9Frame) and not frame.keyframe:
                self._ask_keyframe()  # joined mid-stream: a decoder can only start at a keyframe
                return
            transcoder = VpxToH264(self._limits.segment_seconds, codec=codec.lower())
            self._transcoding = (transcoder,
                                 Offload(f"whip-{codec.lower()}", self._on_transcoded_video))
        transcoder, worker = self._transcoding
        data, ts = frame.data, frame.timestamp
        if not worker.submit(lambda: transcoder.transcode(data, ts)):
            self._ask_keyframe()  # a frame was skipped: start clean from the next keyframe

    def _on_transcoded_video(self, frames: list[Encoded]) -> None:
        now = time.monotonic()
        try:
            for encoded in frames:
                self._on_h264(encoded.data, encoded.pts, now)
        except PublishRefused as refusal:
            self.close_soon(f"publishing stopped: {refusal.message}")

    def _transcode_opus(self, frame: JitterFrame) -> None:
        if self._opus is None:
            transcoder = OpusToAac()
            self._opus = (transcoder, Offload("whip-opus", self._on_transcoded_audio))
            self.feed.configure(TrackInfo(TrackKind.AUDIO, "aac", transcoder.extradata,
                                          AUDIO_TIME_BASE, sample_rate=48000,
                                          channels=transcoder.channels), time.monotonic())
        transcoder, worker = self._opus
        data, ts = frame.data, frame.timestamp
        worker.submit(lambda: transcoder.transcode(data, ts))

    def _on_transcoded_audio(self, frames: list[Encoded]) -> None:
        now = time.monotonic()
        try:
            for encoded in frames:
                self.feed.frame(TrackKind.AUDIO, encoded.pts, encoded.data, True,
                                AUDIO_TIME_BASE, now)
        except PublishRefused as refusal:
            self.close_soon(f"publishing stopped: {refusal.message}")

    def _ask_keyframe(self) -> None:
        receiver = self._video_receiver
        if receiver is not None and self._closing is None:
            asyncio.get_running_loop().create_task(peer.request_keyframe(receiver))

    def request_keyframe(self) -> None:
        """An extra IDR now (a monitor joined and waits for a picture to start from)."""
        self._ask_keyframe()

    # -- the end ----------------------------------------------------------------------------

    def close_soon(self, reason: str) -> asyncio.Task[None]:
        if self._closing is None:
            log.info("whip %s: closing: %s", self.id[:8], reason)
            self._closing = asyncio.get_running_loop().create_task(self._close())
        return self._closing

    async def close(self, reason: str = "ended by the publisher") -> None:
        await asyncio.shield(self.close_soon(reason))

    async def _close(self) -> None:
        try:
            if self._watchdog is not None and self._watchdog is not asyncio.current_task():
                self._watchdog.cancel()
            await self.pc.close()
            for stage in (self._transcoding, self._opus):
                if stage is not None:
                    await stage[1].close()  # what was already received still gets written
            with contextlib.suppress(PublishRefused):
                self.feed.flush()
        except Exception:
            log.exception("whip %s: closing failed", self.id[:8])
        finally:
            try:
                await self._sink.close()
            finally:
                self._on_closed(self)
