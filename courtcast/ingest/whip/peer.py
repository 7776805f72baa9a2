"""The aiortc glue: coded frames out of a receiver without decoding, keyframe requests, codec
preferences and peer-connection set-up shared by WHIP publishers and WHEP viewers.

aiortc's `RTCRtpReceiver` always decodes: it hands each reassembled frame to a decoder thread
through a queue. `tap_receiver()` puts a stand-in for that queue in place, so reassembled frames
(H.264 as Annex-B, VP8, Opus, with 90 kHz/48 kHz timestamps) reach a callback on the event
loop instead and nothing is decoded. Its video jitter buffer releases a frame only when the
next frame's first packet arrives; `MarkerJitterBuffer` releases it at its own last packet (the
RTP marker bit), one frame interval sooner, which the low-latency monitor feels.

These reach into aiortc internals (name-mangled attributes); `check_aiortc()` fails loudly at
start-up if an aiortc upgrade moved them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from courtcast.ingest.whip import ice

log = logging.getLogger("courtcast.ingest.whip")

_QUEUE: Final = "_RTCRtpReceiver__decoder_queue"
_JITTER: Final = "_RTCRtpReceiver__jitter_buffer"
FrameCallback = Callable[[str, JitterFrame], None]  # codec name ("H264", "VP8", "opus"), frame


class AiortcMismatch(RuntimeError):
    """The installed aiortc no longer has the internals this module relies on."""


def check_aiortc() -> None:
    probe = RTCRtpReceiver.__init__.__code__.co_names
    for name in (_QUEUE, _JITTER):
        if name not in probe:
            raise AiortcMismatch(f"aiortc's RTCRtpReceiver has no {name}; WHIP needs updating")


class _FrameTap:
    """Stands in for a receiver's decoder queue: frames go to a callback, not to a decoder.

    The receiver calls `put((codec, frame))` on the event loop and `put(None)` to stop; its
    decoder thread blocks in `get()` until then and exits.
    """

    def __init__(self, on_frame: FrameCallback) -> None:
        self._on_frame = on_frame
        self._stopped = threading.Event()

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._stopped.set()
            return
        codec, frame = item
        try:
            self._on_frame(codec.name, frame)
        except Exception:  # never into aiortc's transport loop, which would stop all media
            log.exception("a WebRTC frame could not be handled")

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
        frame = JitterFrame(data=b"".join(p._data for p in packets),
                            timestamp=packets[0].timestamp)
        self.remove(count)
        return frame


def tap_receiver(receiver: RTCRtpReceiver, on_frame: FrameCallback) -> None:
    """Route the receiver's frames to `on_frame`; call before the connection starts media."""
    setattr(receiver, _QUEUE, _FrameTap(on_frame))
    jitter = getattr(receiver, _JITTER)
    if jitter._is_video:
        setattr(receiver, _JITTER, MarkerJitterBuffer(capacity=jitter.capacity, is_video=True))


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send a PLI (RFC 4585) to every video source of the receiver."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)


# --- codec preferences -------------------------------------------------------------------------


def h264_first(kind: str, *, only_h264: bool = False) -> list[RTCRtpCodecCapability]:
    """Receiver capabilities with H.264 first (passthrough beats transcoding VP8)."""
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    codecs = capabilities.codecs if capabilities is not None else []
    h264 = [c for c in codecs if c.name == "H264"]
    rtx = [c for c in codecs if c.name == "rtx"]
    rest = [] if only_h264 else [c for c in codecs if c.name not in ("H264", "rtx")]
    return [*h264, *rest, *rtx]


def new_peer(settings: ice.IceSettings) -> RTCPeerConnection:
    return RTCPeerConnection(settings.rtc_configuration())


async def answer(pc: RTCPeerConnection, offer_sdp: str, settings: ice.IceSettings) -> str:
    """Apply the offer, gather per `settings` and return the complete (non-trickle) answer.

    Transceivers added before (with codec preferences) take the offer's sections of their kind.
    """
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    ice.configure(pc, settings)
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)
