from __future__ import annotations

from collections.abc import Sequence

from courtcast.ingest.rtmp.tracks import TrackAssembler
from courtcast.media import MediaPacket, TrackInfo, TrackKind

VIDEO = TrackInfo(TrackKind.VIDEO, "h264", b"\x01avcc", width=640, height=360)
AUDIO = TrackInfo(TrackKind.AUDIO, "aac", b"\x12\x10", sample_rate=44100, channels=2)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        self.events.append(("start", [t.codec for t in tracks]))

    def write(self, packet: MediaPacket) -> None:
        self.events.append(("write", (packet.kind.value[0], packet.dts)))

    @property
    def starts(self) -> list[object]:
        return [value for kind, value in self.events if kind == "start"]

    @property
    def writes(self) -> list[object]:
        return [value for kind, value in self.events if kind == "write"]


def video(dts: int) -> MediaPacket:
    return MediaPacket(TrackKind.VIDEO, dts, dts, b"v", keyframe=dts == 0)


def audio(dts: int) -> MediaPacket:
    return MediaPacket(TrackKind.AUDIO, dts, dts, b"a", keyframe=True)


def test_waits_for_both_headers_when_metadata_announces_both() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.expect(TrackKind.VIDEO, True)
    tracks.expect(TrackKind.AUDIO, True)
    tracks.header(VIDEO)
    tracks.packet(video(0))
    tracks.packet(video(40))
    assert rec.events == []
    tracks.header(AUDIO)
    tracks.packet(audio(46))
    assert rec.events == [("start", ["h264", "aac"]), ("write", ("v", 0)), ("write", ("v", 40)),
                          ("write", ("a", 46))]


def test_starts_at_once_when_metadata_says_video_only() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.expect(TrackKind.VIDEO, True)
    tracks.expect(TrackKind.AUDIO, False)
    tracks.header(VIDEO)
    assert rec.starts == [["h264"]]


def test_metadata_arriving_after_the_headers_still_triggers_the_start() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.header(AUDIO)
    tracks.packet(audio(0))
    tracks.expect(TrackKind.VIDEO, False)
    assert rec.events == [("start", ["aac"]), ("write", ("a", 0))]


def test_without_metadata_a_late_audio_header_is_waited_for() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.header(VIDEO)
    for dts in range(0, 400, 40):
        tracks.packet(video(dts))
    tracks.header(AUDIO)
    assert rec.starts == [["h264", "aac"]]
    assert rec.writes == [("v", dts) for dts in range(0, 400, 40)]


def test_falls_back_after_one_second_when_a_track_never_configures() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.expect(TrackKind.VIDEO, True)
    tracks.expect(TrackKind.AUDIO, True)  # metadata lies: no audio will come
    tracks.header(VIDEO)
    for dts in range(0, 1000, 40):
        tracks.packet(video(dts))
    assert rec.events == []
    tracks.packet(video(1000))
    assert rec.starts == [["h264"]]
    assert rec.writes == [("v", dts) for dts in range(0, 1040, 40)]
    # Audio turns up after all: a configuration change that adds the track.
    tracks.header(AUDIO)
    tracks.packet(audio(1010))
    assert rec.starts == [["h264"], ["h264", "aac"]]
    assert rec.writes[-1] == ("a", 1010)


def test_repeated_identical_headers_are_ignored_and_changes_restart() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.header(VIDEO)
    tracks.header(AUDIO)
    tracks.header(TrackInfo(TrackKind.VIDEO, "h264", b"\x01avcc"))  # same codec and extradata
    assert len(rec.starts) == 1
    tracks.header(TrackInfo(TrackKind.VIDEO, "h264", b"\x01other", width=1280, height=720))
    assert rec.starts == [["h264", "aac"], ["h264", "aac"]]
    assert tracks.tracks[0].width == 1280


def test_packets_of_undeclared_tracks_are_dropped_and_counted() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.expect(TrackKind.AUDIO, False)
    tracks.packet(audio(0))  # held: nothing is known yet
    tracks.header(VIDEO)
    tracks.packet(audio(23))
    assert rec.starts == [["h264"]] and rec.writes == []
    assert tracks.dropped == 2


def test_decreasing_dts_is_clamped_per_track() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.expect(TrackKind.AUDIO, False)
    tracks.header(VIDEO)
    for dts in (0, 40, 30, 80):
        tracks.packet(video(dts))
    assert rec.writes == [("v", 0), ("v", 40), ("v", 40), ("v", 80)]


def test_flush_declares_what_is_known_so_nothing_is_lost() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec)
    tracks.header(VIDEO)
    tracks.packet(video(0))
    tracks.flush()
    assert rec.events == [("start", ["h264"]), ("write", ("v", 0))]
    tracks.flush()
    assert len(rec.starts) == 1


def test_pending_is_bounded() -> None:
    rec = Recorder()
    tracks = TrackAssembler(rec, max_pending=10)
    for dts in range(20):
        tracks.packet(video(dts))  # no configuration at all: keep only the newest
    assert tracks.dropped == 10
    tracks.header(VIDEO)
    tracks.expect(TrackKind.AUDIO, False)
    assert rec.writes[0] == ("v", 10)

    rec = Recorder()
    tracks = TrackAssembler(rec, max_pending=10)
    tracks.header(VIDEO)
    for dts in range(10):
        tracks.packet(video(dts))  # configured but waiting for audio: a full buffer starts
    assert rec.starts == [["h264"]] and len(rec.writes) == 10
