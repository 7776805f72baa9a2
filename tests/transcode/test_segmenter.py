from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.mp4 import parse_fragment, parse_init
from courtcast.transcode.playlist import MediaPlaylist, PlaylistSegment
from courtcast.transcode.segmenter import Segmenter, SegmentOutput
from tests.helpers import decode_errors
from tests.transcode.clips import (
    Clip,
    load_clip,
    make_clip,
    probe_packets,
    probe_streams,
    rescaled,
    write_file,
)

FRAME = 0.04  # one video frame of the 25 fps clip
AUDIO_FRAME = 1024 / 44100


def run(segmenter: Segmenter, packets: Iterable[MediaPacket]) -> list[SegmentOutput]:
    outputs: list[SegmentOutput] = []
    for packet in packets:
        outputs += segmenter.write(packet)
    return outputs


def segment_all(clip: Clip, target: float = 2.0) -> tuple[Segmenter, list[SegmentOutput]]:
    segmenter = Segmenter(target)
    assert segmenter.start(clip.tracks) == []
    outputs = run(segmenter, clip.packets)
    return segmenter, outputs + segmenter.flush()


def assert_contiguous(outputs: Sequence[SegmentOutput], tolerance: float = 1e-6) -> None:
    """Each segment starts where the previous one ended, on every track (tfdt + trun)."""
    assert parse_init(outputs[0].init)
    previous: dict[int, int] = {}
    for output in outputs:
        assert output.init == outputs[0].init
        for run_ in parse_fragment(output.data):
            if run_.track_id in previous:
                assert run_.base_decode_time == previous[run_.track_id]
            previous[run_.track_id] = run_.base_decode_time + run_.duration
    for first, second in pairwise(outputs):
        assert second.start == pytest.approx(first.start + first.duration, abs=tolerance)


def assert_segment_plays(tmp_path: Path, output: SegmentOutput) -> None:
    """init + this segment decodes cleanly and starts with a video keyframe."""
    path = write_file(tmp_path, f"one-{output.sequence}.mp4", [output])
    assert decode_errors(path) == ""
    video = probe_packets(path, "v")
    if video:
        assert video[0]["flags"].startswith("K")
        assert float(video[0]["dts_time"]) == pytest.approx(output.start, abs=1e-3)


def video_dts(path: Path) -> list[float]:
    return [float(p["dts_time"]) for p in probe_packets(path, "v")]


# --- the normal case ----------------------------------------------------------------------------


def test_cuts_fmp4_segments_at_keyframes(clip: Clip, tmp_path: Path) -> None:
    segmenter, outputs = segment_all(clip)

    assert [o.sequence for o in outputs] == [0, 1, 2, 3, 4]
    assert [o.duration for o in outputs] == pytest.approx([2.0] * 5, abs=1e-6)
    assert [o.start for o in outputs] == pytest.approx([0, 2, 4, 6, 8], abs=1e-6)
    assert all(o.keyframe_start and not o.discontinuity and o.init_id == 0 for o in outputs)
    assert outputs[0].init[4:8] == b"ftyp" and outputs[0].data[4:8] == b"moof"
    assert segmenter.stats.dropped_before_keyframe == segmenter.stats.mux_errors == 0
    assert_contiguous(outputs)
    for output in outputs:
        assert_segment_plays(tmp_path, output)


def test_concatenation_is_one_continuous_stream(clip: Clip, tmp_path: Path) -> None:
    _, outputs = segment_all(clip)
    path = write_file(tmp_path, "all.mp4", outputs)

    assert decode_errors(path) == ""
    video, audio = probe_streams(path)
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 640, 360)
    assert int(video["nb_read_frames"]) == len(clip.only(TrackKind.VIDEO))
    assert int(audio["nb_read_frames"]) == len(clip.only(TrackKind.AUDIO))
    dts = video_dts(path)
    steps = {round(b - a, 3) for a, b in pairwise(dts)}
    assert steps == {FRAME}  # no gap and no overlap at any segment boundary
    packets = probe_packets(path, "v")
    assert any(p["pts_time"] != p["dts_time"] for p in packets)  # B-frames survived
    input_seconds = len(clip.only(TrackKind.VIDEO)) * FRAME
    assert sum(o.duration for o in outputs) == pytest.approx(input_seconds, abs=FRAME)


def test_audio_stays_in_sync(clip: Clip, tmp_path: Path) -> None:
    _, outputs = segment_all(clip)
    path = write_file(tmp_path, "sync.mp4", outputs)
    first_video = min(p.dts for p in clip.only(TrackKind.VIDEO))
    first_audio = min(p.dts for p in clip.only(TrackKind.AUDIO))
    audio_start = float(probe_packets(path, "a")[0]["dts_time"])
    assert audio_start == pytest.approx((first_audio - first_video) / 1000, abs=1e-3)


def test_bandwidth_for_the_master_playlist(clip: Clip) -> None:
    segmenter, outputs = segment_all(clip)
    assert segmenter.bandwidth.bandwidth == max(o.bitrate for o in outputs)
    total = sum(o.size for o in outputs) * 8 / sum(o.duration for o in outputs)
    assert segmenter.bandwidth.average == pytest.approx(total, rel=1e-3)
    assert 0 < segmenter.bandwidth.average <= segmenter.bandwidth.bandwidth


def test_segment_leaves_as_soon_as_the_next_keyframe_arrives(clip: Clip) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    keyframe = None
    for packet in clip.packets:
        if packet.kind is TrackKind.VIDEO and packet.keyframe:
            keyframe = packet.dts
        if segmenter.write(packet):
            # The muxer interleaves by dts: at most one packet of the other track later.
            assert keyframe is not None and packet.dts - keyframe < 50


def test_program_date_time_follows_the_media_clock(clip: Clip) -> None:
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    segmenter = Segmenter(2.0, clock=lambda: now)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, clip.packets) + segmenter.flush()
    assert [o.program_date_time for o in outputs] == [
        now + timedelta(seconds=2 * i) for i in range(5)
    ]


# --- publishers coming and going ---------------------------------------------------------------


def test_flush_emits_the_partial_segment(clip: Clip, tmp_path: Path) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    fed = [p for p in clip.packets if p.dts < 3300]
    outputs = run(segmenter, fed)
    assert [o.duration for o in outputs] == pytest.approx([2.0])
    last = segmenter.flush()
    assert len(last) == 1 and last[0].duration == pytest.approx(1.32, abs=1e-6)
    assert segmenter.flush() == []
    path = write_file(tmp_path, "partial.mp4", outputs + last)
    assert decode_errors(path) == ""
    video, audio = probe_streams(path)
    assert int(video["nb_read_frames"]) == len([p for p in fed if p.kind is TrackKind.VIDEO])
    assert int(audio["nb_read_frames"]) == len([p for p in fed if p.kind is TrackKind.AUDIO])


def test_reconnect_continues_the_timeline(clip: Clip, tmp_path: Path) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    first = run(segmenter, clip.packets)
    first += segmenter.start(clip.tracks)  # same publisher back, timestamps from 0 again
    second = run(segmenter, clip.packets) + segmenter.flush()

    assert [o.sequence for o in first + second] == list(range(10))
    assert [o.discontinuity for o in first + second] == [False] * 5 + [True] + [False] * 4
    assert {o.init_id for o in first + second} == {0}  # same configuration, same init
    end = first[-1].start + first[-1].duration
    assert end <= second[0].start < end + 0.1  # continues, no overlap, no real gap
    assert_contiguous(second)
    path = write_file(tmp_path, "reconnect.mp4", first + second)
    assert decode_errors(path) == ""
    dts = video_dts(path)
    assert len(dts) == 2 * len(clip.only(TrackKind.VIDEO))
    assert all(b > a for a, b in pairwise(dts))


def test_discontinuity_cuts_mid_gop(clip: Clip, tmp_path: Path) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    first = run(segmenter, [p for p in clip.packets if p.dts < 3000])
    first += segmenter.discontinuity()
    second = run(segmenter, clip.packets) + segmenter.flush()

    assert [o.duration for o in first] == pytest.approx([2.0, 1.0])
    assert second[0].discontinuity and second[0].sequence == 2
    # After the last frame *shown*: with B-frames that is a few frames past the last decoded.
    assert 3.0 <= second[0].start <= 3.0 + 4 * FRAME
    assert second[0].keyframe_start and second[0].init_id == 0
    assert decode_errors(write_file(tmp_path, "cut.mp4", first + second)) == ""


def test_configuration_change_gets_a_new_init(clip: Clip, other_clip: Clip, tmp_path: Path) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    first = run(segmenter, clip.packets)
    first += segmenter.start(other_clip.tracks)
    second = run(segmenter, other_clip.packets) + segmenter.flush()

    assert {o.init_id for o in first} == {0} and {o.init_id for o in second} == {1}
    assert second[0].init != first[0].init and second[0].discontinuity
    assert second[0].start >= first[-1].start + first[-1].duration
    assert [o.duration for o in second] == pytest.approx([2.0, 2.0], abs=1e-6)
    path = write_file(tmp_path, "changed.mp4", second)
    assert decode_errors(path) == ""
    video, _ = probe_streams(path)
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (320, 240, 120)


def test_resume_after_a_restart(clip: Clip) -> None:
    segmenter = Segmenter(2.0, next_sequence=7, next_init_id=3, timeline_start=100.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, clip.packets)
    assert (outputs[0].sequence, outputs[0].init_id, outputs[0].start) == (7, 3, 100.0)
    assert outputs[0].discontinuity and not outputs[1].discontinuity


# --- imperfect input ---------------------------------------------------------------------------


def test_waits_for_the_first_keyframe(clip: Clip, tmp_path: Path) -> None:
    joined = [p for p in clip.packets if p.dts >= 500]  # tuned in mid-GOP
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, joined) + segmenter.flush()

    before = [p for p in joined if p.dts < 2000]
    assert segmenter.stats.dropped_before_keyframe >= len(before) - 2
    assert outputs[0].start == 0.0 and outputs[0].keyframe_start
    assert [o.duration for o in outputs] == pytest.approx([2.0] * 4, abs=1e-6)
    assert_segment_plays(tmp_path, outputs[0])


def test_audio_only(clip: Clip, tmp_path: Path) -> None:
    audio = clip.only(TrackKind.AUDIO)
    segmenter = Segmenter(2.0)
    segmenter.start([clip.track(TrackKind.AUDIO)])
    outputs = run(segmenter, audio) + segmenter.flush()

    for output in outputs[:-1]:  # cut on duration, within one audio frame of the target
        assert 2.0 - 0.05 <= output.duration <= 2.0 + AUDIO_FRAME
    assert sum(o.duration for o in outputs) == pytest.approx(len(audio) * AUDIO_FRAME, abs=0.03)
    assert_contiguous(outputs)
    path = write_file(tmp_path, "audio.mp4", outputs)
    assert decode_errors(path) == ""
    (stream,) = probe_streams(path)
    assert (stream["codec_name"], int(stream["nb_read_frames"])) == ("aac", len(audio))
    assert_segment_plays(tmp_path, outputs[2])


def test_video_only(clip: Clip, tmp_path: Path) -> None:
    segmenter = Segmenter(2.0)
    segmenter.start([clip.track(TrackKind.VIDEO)])
    outputs = run(segmenter, clip.packets) + segmenter.flush()  # audio is dropped, counted
    assert segmenter.stats.dropped_unknown_track == len(clip.only(TrackKind.AUDIO))
    assert [o.duration for o in outputs] == pytest.approx([2.0] * 5, abs=1e-6)
    assert decode_errors(write_file(tmp_path, "video.mp4", outputs)) == ""


def test_hevc_is_tagged_hvc1(media_dir: Path, tmp_path: Path) -> None:
    clip = load_clip(
        make_clip(
            media_dir / "hevc.mp4", size="320x240", seconds=2, gop=25, audio=False, vcodec="libx265"
        )
    )
    segmenter = Segmenter(1.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, clip.packets) + segmenter.flush()
    assert [o.duration for o in outputs] == pytest.approx([1.0, 1.0], abs=1e-6)
    path = write_file(tmp_path, "hevc.mp4", outputs)
    assert decode_errors(path) == ""
    (video,) = probe_streams(path)
    assert (video["codec_name"], video["codec_tag_string"]) == ("hevc", "hvc1")


def test_publisher_time_base_other_than_milliseconds(clip: Clip) -> None:
    tb = Fraction(1, 90000)
    tracks = [replace(t, time_base=tb) for t in clip.tracks]
    segmenter = Segmenter(2.0)
    segmenter.start(tracks)
    outputs = run(segmenter, rescaled(clip.packets, tb)) + segmenter.flush()
    assert [o.duration for o in outputs] == pytest.approx([2.0] * 5, abs=1e-6)
    # packets in another time base than their track's declaration
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, rescaled(clip.packets, tb)) + segmenter.flush()
    assert [o.duration for o in outputs] == pytest.approx([2.0] * 5, abs=1e-6)


def test_long_gop_is_split_at_max_duration(clip: Clip) -> None:
    segmenter = Segmenter(0.5, max_duration=1.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, clip.packets) + segmenter.flush()
    assert max(o.duration for o in outputs) <= 1.0 + FRAME
    assert [o.keyframe_start for o in outputs[:3]] == [True, False, True]


def test_garbage_timestamps_never_break_the_muxer(clip: Clip, tmp_path: Path) -> None:
    rng = random.Random(7)
    packets = list(clip.packets)
    for index in rng.sample(range(20, len(packets) - 1), 40):  # swap neighbours
        packets[index], packets[index + 1] = packets[index + 1], packets[index]
    packets[100] = replace(packets[100], dts=packets[99].dts, pts=packets[99].dts - 5)
    packets[200] = replace(packets[200], dts=-50_000, pts=-50_000)  # one wild timestamp
    packets[300:] = [
        replace(p, dts=p.dts + 3_600_000, pts=p.pts + 3_600_000) for p in packets[300:]
    ]  # an hour forward: a clock reset, not a gap
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, packets) + segmenter.flush()

    stats = segmenter.stats
    assert stats.dropped_out_of_order + stats.fixed_timestamps > 0
    assert stats.timestamp_jumps >= 2
    starts = [o.start for o in outputs]
    assert starts == sorted(starts) and starts[-1] < 12  # the hour was not kept
    assert_contiguous(outputs)
    path = write_file(tmp_path, "garbage.mp4", outputs)
    dts = video_dts(path)
    assert all(b > a for a, b in pairwise(dts))


def test_misuse_is_refused(clip: Clip) -> None:
    segmenter = Segmenter(2.0)
    with pytest.raises(RuntimeError):
        segmenter.write(clip.packets[0])
    with pytest.raises(ValueError):
        segmenter.start([])
    with pytest.raises(ValueError):
        segmenter.start([replace(clip.tracks[0], extradata=b"")])
    with pytest.raises(ValueError):
        segmenter.start([TrackInfo(TrackKind.VIDEO, "flv1")])  # Sorenson Spark: not in MP4
    with pytest.raises(ValueError):
        segmenter.start([TrackInfo(TrackKind.AUDIO, "no-such-codec")])
    with pytest.raises(ValueError):
        Segmenter(0)


def test_rendered_playlist_plays_through_ffmpeg_hls(clip: Clip, tmp_path: Path) -> None:
    """Segments + playlist as the storage will hold them, read by a real HLS client.

    (A configuration change is left out: ffmpeg's HLS demuxer keeps the first init's SPS
    across EXT-X-MAP changes; each configuration's segments are checked on their own above.)
    """
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    outputs = run(segmenter, [p for p in clip.packets if p.dts < 5000])
    outputs += segmenter.discontinuity() + run(segmenter, clip.packets) + segmenter.flush()
    entries = []
    for output in outputs:
        (tmp_path / f"init-{output.init_id}.mp4").write_bytes(output.init)
        (tmp_path / f"{output.sequence:06d}.m4s").write_bytes(output.data)
        entries.append(
            PlaylistSegment(
                f"{output.sequence:06d}.m4s",
                output.duration,
                output.program_date_time,
                output.discontinuity,
                f"init-{output.init_id}.mp4",
                output.sequence,
            )
        )
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(MediaPlaylist(entries, ended=True).render())

    assert playlist.read_text().count("#EXT-X-DISCONTINUITY\n") == 1
    assert decode_errors(playlist) == ""
    (video, audio) = probe_streams(playlist)
    fed = [p for p in clip.packets if p.dts < 5000] + list(clip.packets)
    assert int(video["nb_read_frames"]) == len([p for p in fed if p.kind is TrackKind.VIDEO])
    assert int(audio["nb_read_frames"]) == len([p for p in fed if p.kind is TrackKind.AUDIO])
