from __future__ import annotations

import asyncio

import aiortc.codecs
import pytest

from courtcast.ingest.whip import peer
from courtcast.ingest.whip.publisher import KeyframeSchedule, SessionLimits, WhipPublisher
from courtcast.ingest.whip.sdp import Purpose, parse_offer
from courtcast.media import TrackKind
from tests.helpers import eventually

from .support import LOOPBACK, RecordingSink, accept, publisher_offer, seconds
from .vp9_rtp import vp9_encoders

SECOND = 90000


def test_keyframes_are_requested_just_before_each_boundary() -> None:
    schedule = KeyframeSchedule(2.0)
    assert schedule.on_frame(0, keyframe=False), "nothing decodable yet: ask at once"
    assert not schedule.on_frame(3000, keyframe=False), "asked already, wait before retrying"
    assert not schedule.on_frame(6000, keyframe=True)
    assert not schedule.on_frame(SECOND, keyframe=False)
    assert schedule.on_frame(2 * SECOND + 6000 - 3600, keyframe=False)  # 40 ms before
    assert not schedule.on_frame(2 * SECOND, keyframe=False)
    assert schedule.on_frame(2 * SECOND + SECOND // 2 + 3000, keyframe=False), "retry"
    assert not schedule.on_frame(2 * SECOND + SECOND // 2 + 6000, keyframe=True)


def test_an_extra_keyframe_does_not_move_the_boundaries() -> None:
    schedule = KeyframeSchedule(2.0)
    schedule.on_frame(0, keyframe=True)
    schedule.on_frame(SECOND, keyframe=True)  # a monitor joined
    assert schedule.on_frame(2 * SECOND - 3000, keyframe=False)


async def run_publisher(codec: str, sink: RecordingSink, seconds_: float,
                        limits: SessionLimits | None = None) -> WhipPublisher:
    client = await publisher_offer(codec)
    offer = client.localDescription.sdp
    closed: list[WhipPublisher] = []
    publisher = WhipPublisher("s1", sink, parse_offer(offer.encode(), Purpose.PUBLISH),
                              LOOPBACK, limits or SessionLimits(segment_seconds=1.0),
                              closed.append)
    await accept(client, await publisher.negotiate(offer))
    try:
        await asyncio.sleep(seconds_)
        await publisher.close()
    finally:
        await client.close()
    assert closed == [publisher] and sink.closed.is_set()
    return publisher


async def test_h264_passes_through_with_an_idr_every_segment() -> None:
    sink = RecordingSink()
    publisher = await run_publisher("H264", sink, 3.5)
    assert publisher.codecs == {"video": "H264", "audio": "opus"}
    (video, audio), = sink.starts
    assert (video.codec, video.width, video.height) == ("h264", 160, 120)
    assert video.extradata[0] == 1 and (audio.codec, audio.sample_rate) == ("aac", 48000)
    keys = seconds([p for p in sink.of(TrackKind.VIDEO) if p.keyframe])
    boundaries = [k for k in keys if k >= 0.9]
    assert boundaries and all(abs(k - round(k)) < 0.25 for k in boundaries), keys
    assert len(sink.of(TrackKind.AUDIO)) > 2 * 48000 / 1024


async def test_vp8_is_transcoded_and_segment_keyframes_are_exact() -> None:
    sink = RecordingSink()
    publisher = await run_publisher("VP8", sink, 3.5)
    assert publisher.codecs["video"] == "VP8"
    assert sink.starts[0][0].codec == "h264"
    video = sink.of(TrackKind.VIDEO)
    keys = seconds([p for p in video if p.keyframe])
    first = keys[0]
    assert [round(k - first, 2) for k in keys] == [float(i) for i in range(len(keys))]
    assert len(video) > 60


async def test_vp9_is_assembled_transcoded_and_segment_keyframes_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An aiortc publisher with a libvpx-vp9 encoder stands in for a browser sending VP9."""
    monkeypatch.setattr("aiortc.rtcrtpsender.get_encoder", vp9_encoders(aiortc.codecs.get_encoder))
    peer.register_codecs()  # so that the publisher's own aiortc offers VP9
    sink = RecordingSink()
    publisher = await run_publisher("VP9", sink, 3.5)
    assert publisher.codecs["video"] == "VP9"
    (video_track, _), = sink.starts
    assert (video_track.codec, video_track.width, video_track.height) == ("h264", 160, 120)
    video = sink.of(TrackKind.VIDEO)
    keys = seconds([p for p in video if p.keyframe])
    assert [round(k - keys[0], 2) for k in keys] == [float(i) for i in range(len(keys))]
    assert len(video) > 60


async def test_a_refusing_sink_ends_the_session() -> None:
    sink = RecordingSink(refuse_after=5)
    client = await publisher_offer("H264")
    offer = client.localDescription.sdp
    closed: list[WhipPublisher] = []
    publisher = WhipPublisher("s2", sink, parse_offer(offer.encode(), Purpose.PUBLISH),
                              LOOPBACK, SessionLimits(), closed.append)
    await accept(client, await publisher.negotiate(offer))
    try:
        await asyncio.wait_for(sink.closed.wait(), 15)
    finally:
        await client.close()
    await eventually(lambda: asyncio.sleep(0.05, closed == [publisher]), timeout=15,
                     what="the session to close")


async def test_a_publisher_that_never_connects_is_dropped() -> None:
    sink = RecordingSink()
    client = await publisher_offer("H264")
    offer = client.localDescription.sdp
    publisher = WhipPublisher("s3", sink, parse_offer(offer.encode(), Purpose.PUBLISH), LOOPBACK,
                              SessionLimits(connect_timeout=0.5), lambda _: None)
    await publisher.negotiate(offer)  # the answer never reaches the client
    try:
        await asyncio.wait_for(sink.closed.wait(), 5)
    finally:
        await client.close()
