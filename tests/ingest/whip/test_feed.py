from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from courtcast.ingest.whip.feed import Feed, SessionClock
from courtcast.media import MediaPacket, TrackInfo, TrackKind

V, A = TrackKind.VIDEO, TrackKind.AUDIO
VIDEO_TB, AUDIO_TB = Fraction(1, 90000), Fraction(1, 48000)
H264 = TrackInfo(V, "h264", b"avcc-1", VIDEO_TB)
AAC = TrackInfo(A, "aac", b"\x11\x90", AUDIO_TB, sample_rate=48000, channels=2)


class Recorder:
    def __init__(self) -> None:
        self.starts: list[list[str]] = []
        self.packets: list[MediaPacket] = []

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        self.starts.append([t.codec for t in tracks])

    def write(self, packet: MediaPacket) -> None:
        self.packets.append(packet)

    async def close(self) -> None:
        pass


def test_clock_places_tracks_by_arrival_and_takes_the_earliest_estimate() -> None:
    clock = SessionClock()
    clock.observe(V, 0, VIDEO_TB, arrival=10.0)
    clock.observe(A, 0, AUDIO_TB, arrival=10.30)
    clock.observe(A, 4800, AUDIO_TB, arrival=10.35)  # 0.1 s of audio, 0.05 s later
    clock.freeze()
    assert clock.offset(V, VIDEO_TB) == 0
    assert clock.offset(A, AUDIO_TB) == round(0.25 * 48000)
    clock.observe(A, 9600, AUDIO_TB, arrival=10.0)  # after freeze: no longer moves
    assert clock.offset(A, AUDIO_TB) == round(0.25 * 48000)


def test_a_track_seen_after_the_freeze_gets_its_own_anchor() -> None:
    clock = SessionClock()
    clock.observe(V, 900, VIDEO_TB, arrival=5.0)
    clock.freeze()
    clock.observe(A, 0, AUDIO_TB, arrival=7.0)
    assert clock.offset(V, VIDEO_TB) == 0
    assert clock.offset(A, AUDIO_TB) == round((7.0 - (5.0 - 0.01)) * 48000)
    assert SessionClock().offset(V, VIDEO_TB) == 0


def test_frames_wait_until_every_announced_track_is_configured() -> None:
    rec = Recorder()
    feed = Feed(rec, [V, A])
    feed.observe(V, 0, VIDEO_TB, 1.0)
    feed.observe(A, 0, AUDIO_TB, 1.0)
    feed.frame(V, 0, b"idr", True, VIDEO_TB, 1.0)
    feed.configure(H264, 1.0)
    assert rec.starts == [] and not feed.started
    feed.configure(AAC, 1.1)
    feed.frame(A, 0, b"aac", True, AUDIO_TB, 1.1)
    assert rec.starts == [["h264", "aac"]]
    assert [(p.kind, p.dts, p.keyframe) for p in rec.packets] == [(V, 0, True), (A, 0, True)]
    assert rec.packets[0].time_base == VIDEO_TB and rec.packets[1].pts == rec.packets[1].dts


def test_a_track_that_never_configures_is_left_out_after_the_fallback() -> None:
    rec = Recorder()
    feed = Feed(rec, [V, A], fallback=2.0)
    feed.configure(H264, 0.0)
    feed.frame(V, 0, b"idr", True, VIDEO_TB, 0.0)
    feed.frame(V, 90000, b"p", False, VIDEO_TB, 1.0)
    assert rec.starts == []
    feed.frame(V, 180000, b"p", False, VIDEO_TB, 2.0)
    assert rec.starts == [["h264"]] and len(rec.packets) == 3
    feed.frame(A, 0, b"aac", True, AUDIO_TB, 2.1)  # no configuration at the start: dropped
    assert feed.dropped == 1
    feed.configure(AAC, 2.2)  # later after all: the tracks are declared again
    assert rec.starts[-1] == ["h264", "aac"]


def test_configuration_changes_are_declared_and_repeats_are_not() -> None:
    rec = Recorder()
    feed = Feed(rec, [V])
    feed.configure(H264, 0.0)
    feed.frame(V, 0, b"idr", True, VIDEO_TB, 0.0)
    feed.configure(H264, 0.1)
    assert rec.starts == [["h264"]]
    feed.configure(TrackInfo(V, "h264", b"avcc-2", VIDEO_TB), 0.2)
    assert len(rec.starts) == 2


def test_flush_delivers_what_was_held_and_the_pending_queue_is_bounded() -> None:
    rec = Recorder()
    feed = Feed(rec, [V, A], max_pending=2)
    feed.flush()
    assert rec.starts == []  # nothing configured: nothing can be declared
    feed.configure(AAC, 0.0)
    for index in range(3):
        feed.frame(A, index * 1024, b"aac", True, AUDIO_TB, 0.0)
    assert feed.dropped == 1
    feed.flush()
    assert rec.starts == [["aac"]] and [p.dts for p in rec.packets] == [1024, 2048]
