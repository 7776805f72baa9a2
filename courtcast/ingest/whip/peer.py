"""The aiortc glue: coded frames out of a receiver without decoding, keyframe requests, codec
preferences and peer-connection set-up shared by WHIP publishers and WHEP viewers.

aiortc's `RTCRtpReceiver` always decodes: it hands each reassembled frame to a decoder thread
through a queue. `tap_receiver()` puts a stand-in for that queue in place, so reassembled frames
(H.264 as Annex-B, VP8, VP9, Opus, with 90 kHz/48 kHz timestamps) reach a callback on the
event loop instead and nothing is decoded. Its video jitter buffer releases a frame only when
the next frame's first packet arrives; `MarkerJitterBuffer` releases it at its own last packet
(the RTP marker bit), one frame interval sooner, which the low-latency monitor feels.

aiortc 1.16 neither negotiates nor depacketizes VP9. `register_codecs()` adds it to aiortc's
codec table (after H.264 and VP8); the receiver then hands its packets' payloads on as they are,
the jitter buffer keeps them apart (`PacketFrame`) and the tap assembles the picture (`vp9`).
No aiortc decoder exists for it, so every receiver that may get VP9 must be tapped.

These reach into aiortc internals (name-mangled attributes, the codec table and its matching
function); `check_aiortc()` fails loudly at start-up if an aiortc upgrade moved them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import aiortc.codecs
import aiortc.rtcpeerconnection
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
)

from courtcast.ingest.whip import ice, vp9
from courtcast.ingest.whip.sdp import VP9_PROFILES

log = logging.getLogger("courtcast.ingest.whip")

_QUEUE: Final = "_RTCRtpReceiver__decoder_queue"
_JITTER: Final = "_RTCRtpReceiver__jitter_buffer"
_ERROR: Final = "_RTCRtpReceiver__decoder_error"  # set: a PLI goes out with the next packet
_MATCH: Final = "is_codec_compatible"  # how aiortc pairs offered codecs with its own
_PREFERENCE: Final = ("H264", "VP8", "VP9")  # passthrough first, then VP8 over VP9 (older)
FrameCallback = Callable[[str, JitterFrame], None]  # codec ("H264", "VP8", "VP9", "opus"), frame
CodecMatch = Callable[[RTCRtpCodecParameters, RTCRtpCodecParameters], bool]


class AiortcMismatch(RuntimeError):
    """The installed aiortc no longer has the internals this module relies on."""


def check_aiortc() -> None:
    """Fails if aiortc's internals moved; registers VP9 (`register_codecs`) if they did not."""
    probe = RTCRtpReceiver.__init__.__code__.co_names
    for name in (_QUEUE, _JITTER, _ERROR):
        if name not in probe:
            raise AiortcMismatch(f"aiortc's RTCRtpReceiver has no {name}; WHIP needs updating")
    if not callable(getattr(aiortc.rtcpeerconnection, _MATCH, None)) \
            or not isinstance(getattr(aiortc.codecs, "CODECS", {}).get("video"), list):
        raise AiortcMismatch("aiortc's codec table or matching moved; VP9 needs updating")
    register_codecs()


# --- VP9 -----------------------------------------------------------------------------------------


def _vp9_profile(codec: RTCRtpCodecParameters) -> str | None:
    if codec.mimeType.lower() != "video/vp9":
        return None
    return str(codec.parameters.get("profile-id", "0"))  # RFC 9628: absent means 0


class _SameVp9Profile:
    """aiortc's codec matching, except that VP9 matches only VP9 of the same profile-id.

    aiortc takes any VP9 for any other: the answer would give whichever VP9 payload type the
    offer lists first the profile of our first VP9 entry, and the publisher would send a
    profile the answer did not name.
    """

    def __init__(self, original: CodecMatch) -> None:
        self.original = original

    def __call__(self, ours: RTCRtpCodecParameters, theirs: RTCRtpCodecParameters) -> bool:
        if _vp9_profile(ours) != _vp9_profile(theirs):
            return False
        return self.original(ours, theirs)


def _vp9_codecs(payload_type: int, profile: str) -> list[RTCRtpCodecParameters]:
    feedback = [RTCRtcpFeedback(type="nack"), RTCRtcpFeedback(type="nack", parameter="pli"),
                RTCRtcpFeedback(type="goog-remb")]  # what aiortc gives its own video codecs
    return [RTCRtpCodecParameters(mimeType="video/VP9", clockRate=90000,
                                  payloadType=payload_type, rtcpFeedback=feedback,
                                  parameters={"profile-id": profile}),
            RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000,
                                  payloadType=payload_type + 1,
                                  parameters={"apt": payload_type})]


def register_codecs() -> None:
    """Adds VP9 (`VP9_PROFILES`, each with its rtx) to aiortc's video codecs, once."""
    video: list[RTCRtpCodecParameters] = aiortc.codecs.CODECS["video"]
    if not any(_vp9_profile(codec) for codec in video):
        free = max((codec.payloadType or 0 for codec in video), default=96) + 1
        for index, profile in enumerate(VP9_PROFILES):
            video.extend(_vp9_codecs(free + 2 * index, profile))
    match = getattr(aiortc.rtcpeerconnection, _MATCH)
    if not isinstance(match, _SameVp9Profile):
        setattr(aiortc.rtcpeerconnection, _MATCH, _SameVp9Profile(match))


class PacketFrame(JitterFrame):
    """A frame as the jitter buffer released it, each packet's payload also kept apart."""

    def __init__(self, parts: tuple[bytes, ...], timestamp: int) -> None:
        super().__init__(data=b"".join(parts), timestamp=timestamp)
        self.parts = parts


class Vp9Frame(JitterFrame):
    """A VP9 picture without its RTP descriptors: one frame, or a superframe of its layers."""

    def __init__(self, picture: vp9.Picture, timestamp: int) -> None:
        super().__init__(data=picture.data, timestamp=timestamp)
        self.keyframe = picture.keyframe


class _FrameTap:
    """Stands in for a receiver's decoder queue: frames go to a callback, not to a decoder.

    The receiver calls `put((codec, frame))` on the event loop and `put(None)` to stop; its
    decoder thread blocks in `get()` until then and exits. VP9 pictures are assembled here;
    one that cannot be sets `lost` (the receiver's decode-error flag), so a PLI asks for a
    keyframe as after a decoding error.
    """

    def __init__(self, on_frame: FrameCallback, lost: threading.Event | None = None) -> None:
        self._on_frame = on_frame
        self._lost = lost
        self._stopped = threading.Event()

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._stopped.set()
            return
        codec, frame = item
        try:
            ready = self._vp9(frame) if codec.name == "VP9" else frame
            if ready is not None:
                self._on_frame(codec.name, ready)
        except Exception:  # never into aiortc's transport loop, which would stop all media
            log.exception("a WebRTC frame could not be handled")

    def _vp9(self, frame: JitterFrame) -> Vp9Frame | None:
        parts = frame.parts if isinstance(frame, PacketFrame) else (frame.data,)
        payloads = [part for part in parts if part]  # padding-only packets carry nothing
        if not payloads:
            return None
        try:
            return Vp9Frame(vp9.assemble(payloads), frame.timestamp)
        except vp9.Vp9Error as error:
            log.debug("a VP9 picture was dropped: %s", error)
            if self._lost is not None:
                self._lost.set()
            return None

    def get(self) -> None:
        self._stopped.wait()


class MarkerJitterBuffer(JitterBuffer):
    """A video jitter buffer that releases a frame as soon as its marker packet is in."""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        del sequence_number
        packets: list[Any] = []
        origin = self._origin or 0  # set by add() before it calls this
        for count in range(self.capacity):
            packet = self._packets[(origin + count) % self.capacity]
            if packet is None:
                return None  # a gap: wait for the retransmission
            if packets and packet.timestamp != packets[0].timestamp:
                return self._release(packets, count)  # marker lost: the next frame began
            packets.append(packet)
            if packet.marker:
                return self._release(packets, count + 1)
        return None

    def _release(self, packets: list[Any], count: int) -> JitterFrame:
        frame = PacketFrame(tuple(p._data for p in packets), packets[0].timestamp)
        self.remove(count)
        return frame


def tap_receiver(receiver: RTCRtpReceiver, on_frame: FrameCallback) -> None:
    """Route the receiver's frames to `on_frame`; call before the connection starts media."""
    setattr(receiver, _QUEUE, _FrameTap(on_frame, getattr(receiver, _ERROR)))
    jitter = getattr(receiver, _JITTER)
    if jitter._is_video:
        setattr(receiver, _JITTER, MarkerJitterBuffer(capacity=jitter.capacity, is_video=True))


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send a PLI (RFC 4585) to every video source of the receiver."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)


# --- codec preferences -------------------------------------------------------------------------


def _rank(codec: RTCRtpCodecCapability) -> int:
    return _PREFERENCE.index(codec.name) if codec.name in _PREFERENCE else len(_PREFERENCE)


def h264_first(kind: str, *, only_h264: bool = False) -> list[RTCRtpCodecCapability]:
    """Receiver capabilities in our order: H.264 (passed through), VP8, VP9 (VP9 profile 0
    before 2), the rest, rtx; `only_h264` leaves just H.264 and rtx."""
    register_codecs()
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    codecs = capabilities.codecs if capabilities is not None else []
    media = [c for c in codecs if c.name != "rtx" and (c.name == "H264" or not only_h264)]
    return [*sorted(media, key=_rank), *(c for c in codecs if c.name == "rtx")]


def new_peer(settings: ice.IceSettings) -> RTCPeerConnection:
    register_codecs()  # before the connection negotiates anything
    return RTCPeerConnection(settings.rtc_configuration())


async def answer(pc: RTCPeerConnection, offer_sdp: str, settings: ice.IceSettings) -> str:
    """Apply the offer, gather per `settings` and return the complete (non-trickle) answer.

    Transceivers added before (with codec preferences) take the offer's sections of their kind.
    """
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    ice.configure(pc, settings)
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)
