from __future__ import annotations

import threading
from typing import Any

import aiortc.codecs
import aiortc.rtcpeerconnection
import pytest
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from courtcast.ingest.whip import peer

from .offers import offer
from .support import LOOPBACK
from .vp9_rtp import libvpx_frames, packetize


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
    monkeypatch.undo()
    monkeypatch.setattr(peer, "_MATCH", "is_codec_gone")
    with pytest.raises(peer.AiortcMismatch, match="VP9 needs updating"):
        peer.check_aiortc()


def test_codec_preferences_put_h264_first() -> None:
    names = [c.name for c in peer.h264_first("video")]
    assert names[0] == "H264" and "VP8" in names and names[-1] == "rtx"
    assert {c.name for c in peer.h264_first("video", only_h264=True)} == {"H264", "rtx"}


def test_the_jitter_buffer_keeps_each_packets_payload() -> None:
    buffer = peer.MarkerJitterBuffer(capacity=16, is_video=True)
    buffer.add(rtp(7, 90, False, b"ab"))
    frame = buffer.add(rtp(8, 90, True, b"c"))[1]
    assert isinstance(frame, peer.PacketFrame) and frame.parts == (b"ab", b"c")
    assert frame.data == b"abc"


def vp9_codec() -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(mimeType="video/VP9", clockRate=90000, payloadType=98,
                                 parameters={"profile-id": "0"})


def test_the_tap_assembles_vp9_and_asks_for_a_keyframe_after_a_bad_picture() -> None:
    seen: list[tuple[str, bytes, bool, int]] = []

    def on_frame(codec: str, frame: JitterFrame) -> None:
        keyframe = isinstance(frame, peer.Vp9Frame) and frame.keyframe
        seen.append((codec, frame.data, keyframe, frame.timestamp))

    lost = threading.Event()
    tap = peer._FrameTap(on_frame, lost)
    buffer = peer.MarkerJitterBuffer(capacity=64, is_video=True)
    frames = libvpx_frames(2, 64, 48)
    sequence = 0
    for number, (data, keyframe) in enumerate(frames):
        payloads = packetize([data], number, keyframe=keyframe, mtu=100)
        for index, payload in enumerate(payloads):
            last = index == len(payloads) - 1
            released = buffer.add(rtp(sequence, number * 3000, last, payload))[1]
            sequence += 1
            assert (released is not None) == last
            if released is not None:
                tap.put((vp9_codec(), released))
    assert seen == [("VP9", frames[0][0], True, 0), ("VP9", frames[1][0], False, 3000)]
    tap.put((vp9_codec(), peer.PacketFrame((b"", b""), 6000)))  # padding: nothing, no PLI
    assert len(seen) == 2 and not lost.is_set()
    tap.put((vp9_codec(), peer.PacketFrame((b"\x44\x86",), 9000)))  # E without B
    assert len(seen) == 2 and lost.is_set(), "a PLI goes out with the next packet"


def test_tap_receiver_gives_the_tap_the_receivers_decode_error_flag() -> None:
    transport: Any = type("Transport", (), {"state": "new"})()
    video = RTCRtpReceiver("video", transport)
    peer.tap_receiver(video, lambda codec, frame: None)
    assert getattr(video, peer._QUEUE)._lost is getattr(video, peer._ERROR)


def test_vp9_is_registered_once_after_h264_and_vp8() -> None:
    peer.register_codecs()
    peer.register_codecs()
    video = aiortc.codecs.CODECS["video"]
    vp9 = [(c.payloadType, c.parameters) for c in video if c.name == "VP9"]
    assert [parameters for _, parameters in vp9] == [{"profile-id": "0"}, {"profile-id": "2"}]
    assert all(any(c.name == "rtx" and c.parameters == {"apt": pt} for c in video)
               for pt, _ in vp9)
    match = aiortc.rtcpeerconnection.is_codec_compatible
    assert isinstance(match, peer._SameVp9Profile)
    assert not isinstance(match.original, peer._SameVp9Profile)
    order = [(c.name, c.parameters.get("profile-id")) for c in peer.h264_first("video")]
    assert order == [("H264", None), ("H264", None), ("VP8", None), ("VP9", "0"), ("VP9", "2"),
                     ("rtx", None)]


def vp9_offer() -> str:
    """Chromium's offer with VP9 only, profile 2 listed first (aiortc goes by rtpmap order)."""
    text = offer(video="100 101 37 98 99").decode()
    head = text[:text.index("a=rtpmap:96 ")]
    codecs = [(100, "VP9", "profile-id=2"), (101, "rtx", "apt=100"),
              (37, "VP9", "profile-id=1"), (98, "VP9", "profile-id=0"), (99, "rtx", "apt=98")]
    return head + "".join(f"a=rtpmap:{pt} {name}/90000\r\na=fmtp:{pt} {fmtp}\r\n"
                          for pt, name, fmtp in codecs)


async def test_an_answer_gives_each_vp9_payload_type_its_own_profile() -> None:
    """The offer lists profile 2 before 0 (and profile 1, which we do not take)."""
    pc = peer.new_peer(LOOPBACK)
    pc.addTransceiver("video", direction="recvonly").setCodecPreferences(peer.h264_first("video"))
    try:
        answer = await peer.answer(pc, vp9_offer(), LOOPBACK)
    finally:
        await pc.close()
    video = answer[answer.index("m=video"):]
    assert video.split("\r\n")[0].split()[3:] == ["98", "99", "100", "101"]
    assert "a=fmtp:98 profile-id=0" in video and "a=fmtp:100 profile-id=2" in video
