"""aiortc as a real WebRTC peer for the tests: a publisher with a test pattern and a tone, a
recording sink/authorizer, and a WHEP viewer that decodes what it receives."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Sequence

import av
import numpy as np
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)

from courtcast.ingest.publish import PublishRefused, PublishRequest
from courtcast.ingest.whip.ice import IceSettings, configure
from courtcast.media import MediaPacket, TrackInfo, TrackKind

LOOPBACK = IceSettings(hosts=("127.0.0.1",))


class PatternTrack(VideoStreamTrack):
    """160x120 frames at aiortc's 30 fps clock, a different grey each frame."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        picture = np.full((120, 160, 3), self.count * 9 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


class RecordingSink:
    def __init__(self, refuse_after: int | None = None) -> None:
        self.starts: list[Sequence[TrackInfo]] = []
        self.packets: list[MediaPacket] = []
        self.closed = asyncio.Event()
        self.refuse_after = refuse_after

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        self.starts.append(tracks)

    def write(self, packet: MediaPacket) -> None:
        if self.refuse_after is not None and len(self.packets) >= self.refuse_after:
            raise PublishRefused("ended", "the hearing has ended")
        self.packets.append(packet)

    async def close(self) -> None:
        self.closed.set()

    def of(self, kind: TrackKind) -> list[MediaPacket]:
        return [p for p in self.packets if p.kind is kind]


class RecordingAuthorizer:
    def __init__(self, refusal: PublishRefused | None = None,
                 refuse_after: int | None = None) -> None:
        self.requests: list[PublishRequest] = []
        self.sinks: list[RecordingSink] = []
        self.refusal = refusal
        self.refuse_after = refuse_after

    async def begin_publish(self, request: PublishRequest) -> RecordingSink:
        self.requests.append(request)
        if self.refusal is not None:
            raise self.refusal
        self.sinks.append(RecordingSink(self.refuse_after))
        return self.sinks[-1]


async def publisher_offer(codec: str = "H264", *, audio: bool = True) -> RTCPeerConnection:
    """A sending peer connection with its complete offer as local description."""
    pc = RTCPeerConnection(LOOPBACK.rtc_configuration())
    video = pc.addTransceiver(PatternTrack(), direction="sendonly")
    capabilities = RTCRtpSender.getCapabilities("video")
    assert capabilities is not None
    video.setCodecPreferences([c for c in capabilities.codecs if c.name in (codec, "rtx")])
    if audio:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    configure(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def viewer_offer() -> tuple[RTCPeerConnection, list[MediaStreamTrack]]:
    """A receiving peer connection (a WHEP client) and the tracks it will get."""
    pc = RTCPeerConnection(LOOPBACK.rtc_configuration())
    tracks: list[MediaStreamTrack] = []
    pc.on("track", tracks.append)
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    configure(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, tracks


async def accept(pc: RTCPeerConnection, answer: str) -> None:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


def seconds(packets: Sequence[MediaPacket]) -> list[float]:
    return [round(float(p.pts * p.time_base), 2) for p in packets]


def aac_track() -> TrackInfo:
    return TrackInfo(TrackKind.AUDIO, "aac", bytes.fromhex("1190"), fractions.Fraction(1, 48000),
                     sample_rate=48000, channels=2)
