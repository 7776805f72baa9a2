from __future__ import annotations

import threading
from typing import Any

import pytest
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from courtcast.ingest.whip import peer


def rtp(seq: int, timestamp: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(sequence_number=seq, timestamp=timestamp, marker=int(marker))
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


def test_the_marker_bit_releases_a_frame_without_waiting_for_the_next() -> None:
    buffer = peer.MarkerJitterBuffer(capacity=16, is_video=True)
    assert buffer.add(rtp(100, 3000, False, b"a"))[1] is None
    frame = buffer.add(rtp(101, 3000, True, b"b"))[1]
    assert frame is not None and (frame.data, frame.timestamp) == (b"ab", 3000)
    # A gap holds the next frame back until the missing packet arrives.
    assert buffer.add(rtp(103, 6000, True, b"d"))[1] is None
    frame = buffer.add(rtp(102, 6000, False, b"c"))[1]
    assert frame is not None and frame.data == b"cd"


def test_a_lost_marker_still_releases_the_frame_when_the_next_begins() -> None:
    buffer = peer.MarkerJitterBuffer(capacity=16, is_video=True)
    buffer.add(rtp(1, 90, False, b"x"))
    frame = buffer.add(rtp(2, 180, False, b"y"))[1]
    assert frame is not None and (frame.data, frame.timestamp) == (b"x", 90)


def test_the_tap_hands_frames_to_the_callback_and_ends_the_decoder_thread() -> None:
    seen: list[tuple[str, bytes]] = []

    def on_frame(codec: str, frame: JitterFrame) -> None:
        if frame.data == b"boom":
            raise RuntimeError("a bug in the handler")
        seen.append((codec, frame.data))

    tap = peer._FrameTap(on_frame)
    waiter = threading.Thread(target=tap.get)
    waiter.start()
    codec = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
    tap.put((codec, JitterFrame(b"boom", 0)))  # logged, never raised into aiortc
    tap.put((codec, JitterFrame(b"frame", 0)))
    tap.put(None)
    waiter.join(timeout=5)
    assert not waiter.is_alive() and seen == [("H264", b"frame")]


def test_tap_receiver_replaces_the_decoder_queue_and_the_video_jitter_buffer() -> None:
    transport: Any = type("Transport", (), {"state": "new"})()
    video = RTCRtpReceiver("video", transport)
    audio = RTCRtpReceiver("audio", transport)
    for receiver in (video, audio):
        peer.tap_receiver(receiver, lambda codec, frame: None)
        assert isinstance(getattr(receiver, peer._QUEUE), peer._FrameTap)
    assert isinstance(getattr(video, peer._JITTER), peer.MarkerJitterBuffer)
    assert not isinstance(getattr(audio, peer._JITTER), peer.MarkerJitterBuffer)
    peer.check_aiortc()


def test_check_aiortc_notices_moved_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer, "_QUEUE", "_RTCRtpReceiver__gone")
    with pytest.raises(peer.AiortcMismatch):
        peer.check_aiortc()


def test_codec_preferences_put_h264_first() -> None:
    names = [c.name for c in peer.h264_first("video")]
    assert names[0] == "H264" and "VP8" in names and names[-1] == "rtx"
    assert {c.name for c in peer.h264_first("video", only_h264=True)} == {"H264", "rtx"}
