from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import av
import numpy as np

from courtcast.ingest.whip import peer
from courtcast.ingest.whip.h264 import AnnexBToAvcc
from courtcast.ingest.whip.relay import HearingRelay, RelayTrack, WhepViewer, _Continuity
from courtcast.ingest.whip.sdp import Purpose, parse_offer
from courtcast.ingest.whip.transcode import OpusToAac
from courtcast.media import MediaPacket, TrackInfo, TrackKind
from tests.helpers import eventually

from .support import LOOPBACK, accept, viewer_offer
from .test_transcode import opus_packets

VIDEO_TB = Fraction(1, 90000)


def test_a_viewer_track_starts_at_a_keyframe_and_skips_ahead_when_behind() -> None:
    track = RelayTrack("video", max_queue=3)
    track.push(b"p", 0, VIDEO_TB, keyframe=False)
    assert track._queue.empty()
    for pts in range(3):
        track.push(b"k" if pts == 0 else b"p", pts, VIDEO_TB, keyframe=pts == 0)
    track.push(b"p", 3, VIDEO_TB, keyframe=False)  # full: dropped, wait for a keyframe
    assert track._queue.empty() and track.dropped == 3
    track.push(b"k", 4, VIDEO_TB, keyframe=True)
    assert track._queue.qsize() == 1


async def test_a_viewer_track_yields_packets_for_aiortc_to_packetize() -> None:
    track = RelayTrack("audio")
    track.push(b"opus", 960, Fraction(1, 48000), keyframe=True)
    packet = await track.recv()
    assert (bytes(packet), packet.pts, packet.time_base) == (b"opus", 960, Fraction(1, 48000))


def test_timestamps_continue_across_a_publisher_reconnect() -> None:
    clock = _Continuity(step=3000)
    assert [clock.map(p) for p in (0, 3000, 6000)] == [0, 3000, 6000]
    clock.rebase()
    assert [clock.map(p) for p in (0, 3000)] == [9000, 12000]


def hearing_feed(frames: int) -> tuple[list[TrackInfo], list[MediaPacket]]:
    """What a hearing's broadcast relays: AVCC H.264 and AAC, as any ingest produces them."""
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "30"}
    converter, packets = AnnexBToAvcc(), []
    for index in range(frames):
        picture = np.full((120, 160, 3), index * 5 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in encoder.encode(frame):
            unit = converter.convert(bytes(packet))
            assert unit is not None
            pts = int(packet.pts) * 3000
            packets.append(MediaPacket(TrackKind.VIDEO, pts, pts, unit.data, unit.keyframe,
                                       VIDEO_TB))
    aac = OpusToAac()
    for data, pts in opus_packets(frames * 3 // 2):
        packets += [MediaPacket(TrackKind.AUDIO, e.pts, e.pts, e.data, True, Fraction(1, 48000))
                    for e in aac.transcode(data, pts)]
    tracks = [TrackInfo(TrackKind.VIDEO, "h264", converter.config, VIDEO_TB),
              TrackInfo(TrackKind.AUDIO, "aac", aac.extradata, Fraction(1, 48000),
                        sample_rate=48000, channels=2)]
    return tracks, sorted(packets, key=lambda p: float(p.pts * p.time_base))


async def test_a_monitor_receives_the_hearing_as_h264_and_opus() -> None:
    relay = HearingRelay(7)
    peer.register_codecs()  # the viewer offers VP9 too: the monitor must still send H.264
    client, tracks = await viewer_offer()
    offer = client.localDescription.sdp
    assert "VP9/90000" in offer
    def forget(gone: WhepViewer) -> None:
        relay.viewers.pop(gone.id, None)

    viewer = WhepViewer("v1", LOOPBACK, forget)
    relay.viewers[viewer.id] = viewer
    answer = await viewer.negotiate(parse_offer(offer.encode(), Purpose.PLAY), offer)
    assert "H264/90000" in answer and "VP8" not in answer and "VP9" not in answer
    await accept(client, answer)
    await eventually(lambda: asyncio.sleep(0.05, client.connectionState == "connected"),
                     timeout=15, what="the viewer to connect")
    info, packets = hearing_feed(60)
    relay.start(info)
    for packet in packets:  # paced roughly like a live feed
        relay.write(packet)
        await asyncio.sleep(0.005)
    try:
        kinds = {t.kind: t for t in tracks}
        video: Any = await asyncio.wait_for(kinds["video"].recv(), 10)
        audio: Any = await asyncio.wait_for(kinds["audio"].recv(), 10)
        assert (video.width, video.height) == (160, 120)
        assert audio.sample_rate == 48000
    finally:
        await client.close()
        await relay.close()
    assert relay.viewers == {}
