"""The WHEP monitor: a live hearing's incoming feed relayed to a few clerks over WebRTC.

One `HearingRelay` per watched hearing taps the broadcast (`Broadcaster.watch`) and does the
per-hearing work once: H.264 AVCC samples become Annex-B with parameter sets before keyframes,
and AAC is transcoded to Opus (browsers' WebRTC has no AAC) in one worker thread. Each viewer
only gets the packets queued; aiortc packetizes them for its connection without encoding.
The public keeps watching HLS; this is for the court's staff, so viewers are few and capped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, Final

import av
from aiortc import MediaStreamTrack
from aiortc.jitterbuffer import JitterFrame

from courtcast.ingest.whip import peer
from courtcast.ingest.whip.h264 import ParameterSets, avcc_to_annexb, parse_avc_config
from courtcast.ingest.whip.ice import IceSettings
from courtcast.ingest.whip.sdp import Offer, Purpose
from courtcast.ingest.whip.transcode import (
    AUDIO_TIME_BASE,
    OPUS_FRAME,
    VIDEO_RATE,
    VIDEO_TIME_BASE,
    AacToOpus,
    Encoded,
    Offload,
)
from courtcast.media import MediaPacket, TrackInfo, TrackKind

log = logging.getLogger("courtcast.ingest.whip")

VIEWER_QUEUE: Final = 90  # ~3 s of video; a viewer further behind restarts at a keyframe
VIDEO_STEP: Final = VIDEO_RATE // 30  # assumed frame duration across a publisher's reconnect


class RelayTrack(MediaStreamTrack):
    """One viewer's track of pre-encoded packets, which aiortc's sender packetizes as they are."""

    def __init__(self, kind: str, max_queue: int = VIEWER_QUEUE) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[tuple[bytes, int, Fraction]] = asyncio.Queue(max_queue)
        self._need_keyframe = kind == "video"  # a decoder can only start at a keyframe
        self.dropped = 0

    def push(self, data: bytes, pts: int, time_base: Fraction, keyframe: bool) -> None:
        if self._queue.full():  # a slow viewer: skip to the present rather than lag
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._need_keyframe = self.kind == "video"
        if self._need_keyframe and not keyframe:
            return
        self._need_keyframe = False
        self._queue.put_nowait((data, pts, time_base))

    async def recv(self) -> av.Packet[Any]:
        data, pts, time_base = await self._queue.get()
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = time_base
        return packet


class _Continuity:
    """Keeps a viewer's RTP timestamps moving forward when the publisher reconnects."""

    def __init__(self, step: int) -> None:
        self._step = step
        self._offset = 0
        self._last: int | None = None
        self._rebase = False

    def rebase(self) -> None:
        self._rebase = True

    def map(self, pts: int) -> int:
        if self._rebase and self._last is not None:
            self._offset = self._last + self._step - pts
        self._rebase = False
        out = pts + self._offset
        self._last = out if self._last is None else max(self._last, out)
        return out


def _drop(codec: str, frame: JitterFrame) -> None:
    del codec, frame


class WhepViewer:
    """One clerk's peer connection, sending the relay's packets."""

    def __init__(self, session_id: str, settings: IceSettings,
                 on_closed: Callable[[WhepViewer], None]) -> None:
        self.id = session_id
        self._settings = settings
        self._on_closed = on_closed
        self.pc = peer.new_peer(settings)
        self.video = RelayTrack("video")
        self.audio = RelayTrack("audio")
        self._closing: asyncio.Task[None] | None = None

    async def negotiate(self, offer: Offer, offer_sdp: str) -> str:
        kinds = offer.flowing(Purpose.PLAY)
        if "video" in kinds:
            self.pc.addTransceiver(self.video, direction="sendonly").setCodecPreferences(
                peer.h264_first("video", only_h264=True))
        if "audio" in kinds:
            self.pc.addTransceiver(self.audio, direction="sendonly")
        self.pc.on("connectionstatechange", self._on_state)
        answer = await peer.answer(self.pc, offer_sdp, self._settings)
        for transceiver in self.pc.getTransceivers():
            # Sending is H.264 only (above); whatever a viewer might send in a section of its
            # own (VP9, which aiortc cannot decode, included) is dropped undecoded.
            peer.tap_receiver(transceiver.receiver, _drop)
        return answer

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.close_soon()

    def close_soon(self) -> asyncio.Task[None]:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())
        return self._closing

    async def close(self) -> None:
        await asyncio.shield(self.close_soon())

    async def _close(self) -> None:
        try:
            await self.pc.close()
        finally:
            self._on_closed(self)


class HearingRelay:
    """Fans one hearing's incoming feed out to its viewers (a `PacketListener`)."""

    def __init__(self, hearing_id: int) -> None:
        self.hearing_id = hearing_id
        self.viewers: dict[str, WhepViewer] = {}
        self.unwatch: Callable[[], None] | None = None
        self._sets: ParameterSets | None = None
        self._video_clock = _Continuity(VIDEO_STEP)
        self._audio: tuple[AacToOpus, Offload[list[Encoded]]] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._audio_pts = 0
        self.last_packet = time.monotonic()

    # -- PacketListener -----------------------------------------------------------------------

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        self._sets = None
        if self._audio is not None:  # a new publisher or configuration: a new decoder
            task = asyncio.get_running_loop().create_task(self._audio[1].close())
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            self._audio = None
        for track in tracks:
            if track.kind is TrackKind.VIDEO and track.codec == "h264":
                self._sets = parse_avc_config(track.extradata)
            elif track.kind is TrackKind.AUDIO and track.codec == "aac":
                transcoder = AacToOpus(track.extradata, track.sample_rate, track.channels)
                self._audio = (transcoder, Offload("whep-opus", self._on_opus))
        self._video_clock.rebase()

    def write(self, packet: MediaPacket) -> None:
        self.last_packet = time.monotonic()
        if not self.viewers:
            return
        if packet.kind is TrackKind.VIDEO and self._sets is not None:
            self._relay_video(packet, self._sets)
        elif packet.kind is TrackKind.AUDIO and self._audio is not None:
            transcoder, worker = self._audio
            data, pts, time_base = packet.data, packet.pts, packet.time_base
            worker.submit(lambda: transcoder.transcode(data, pts, time_base))

    def _relay_video(self, packet: MediaPacket, sets: ParameterSets) -> None:
        try:
            annexb = avcc_to_annexb(packet.data, sets, packet.keyframe)
        except ValueError:
            return  # a sample the monitor cannot split; the next keyframe recovers
        pts = self._video_clock.map(round(packet.pts * packet.time_base * VIDEO_RATE))
        for viewer in self.viewers.values():
            viewer.video.push(annexb, pts, VIDEO_TIME_BASE, packet.keyframe)

    def _on_opus(self, frames: list[Encoded]) -> None:
        for encoded in frames:
            # Opus frames are all 20 ms: a running count keeps timestamps continuous.
            pts, self._audio_pts = self._audio_pts, self._audio_pts + OPUS_FRAME
            for viewer in self.viewers.values():
                viewer.audio.push(encoded.data, pts, AUDIO_TIME_BASE, True)

    async def close(self) -> None:
        if self.unwatch is not None:
            self.unwatch()
            self.unwatch = None
        for viewer in list(self.viewers.values()):
            await viewer.close()
        if self._audio is not None:
            await self._audio[1].close()
            self._audio = None
        await asyncio.gather(*self._retiring, return_exceptions=True)
