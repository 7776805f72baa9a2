"""The transcoding core over real clips made by the ffmpeg CLI, checked with ffprobe/ffmpeg."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import pytest

from courtcast.media import MediaPacket, TrackKind
from courtcast.transcode.encoders import EncoderSettings
from courtcast.transcode.ladder import AUDIO_ONLY, SOURCE, Rung, plan_renditions
from courtcast.transcode.overlay import OverlayStyle
from courtcast.transcode.renditions import (
    Event,
    PosterReady,
    RenditionDropped,
    RenditionEngine,
    RenditionSegment,
    RenditionStarted,
    SpriteSheetReady,
    TranscodeOptions,
)
from courtcast.transcode.segmenter import SegmentOutput
from courtcast.transcode.thumbnails import ThumbnailCollector
from tests.helpers import decode_errors
from tests.transcode.clips import (
    Clip,
    lavfi_tone,
    lavfi_video,
    load_media,
    make_media,
    marked_source,
    marker_times,
    probe_packets,
    probe_streams,
    write_file,
)

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
LADDER = (Rung("720p", 720, 2_500_000), Rung("270p", 270, 400_000), Rung("180p", 180, 200_000))
SMALL = (Rung("120p", 120, 150_000),)
OPTIONS = TranscodeOptions(encoder=EncoderSettings(preset="ultrafast", max_gop=2.0))


class Run:
    """Every event of one engine run, by rendition."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.segments: dict[str, list[SegmentOutput]] = defaultdict(list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, RenditionSegment):
            self.segments[event.rendition].append(event.output)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def files(self, directory: Path) -> dict[str, Path]:
        return {name: write_file(directory, f"{name}.mp4", outs)
                for name, outs in self.segments.items()}  # fmt: skip


def arrival(packet: MediaPacket) -> datetime:
    """Packets arrive in real time, 50 ms after capture."""
    return T0 + timedelta(seconds=float(packet.dts * packet.time_base) + 0.05)


def transcode(
    clip: Clip,
    profile: str = "ladder",
    *,
    ladder: Sequence[Rung] = LADDER,
    options: TranscodeOptions = OPTIONS,
    force: bool = False,
    overlay: bool = False,
) -> tuple[Run, RenditionEngine]:
    run = Run()
    plan = plan_renditions(clip.tracks, profile, ladder=ladder, force_transcode=force,
                           overlay=overlay)  # fmt: skip
    engine = RenditionEngine(plan, plan.renditions, options, run)
    engine.start(clip.tracks)
    for packet in clip.packets:
        engine.write(packet, arrival(packet))
    engine.flush()
    return run, engine


def keyframe_times(path: Path) -> list[float]:
    return [float(p["pts_time"]) for p in probe_packets(path, "v") if "K" in p["flags"]]


# --- the ladder -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ladder_run(clip: Clip) -> tuple[Run, RenditionEngine]:
    return transcode(clip)


def test_ladder_has_no_rung_above_the_source(ladder_run: tuple[Run, RenditionEngine]) -> None:
    run, _ = ladder_run
    started = {e.rendition: e.tracks for e in run.of(RenditionStarted)}
    assert set(started) == {SOURCE, "270p", "180p", AUDIO_ONLY}  # 720p would be upscaled
    assert set(run.segments) == set(started)
    sizes = {name: (t[0].width, t[0].height) for name, t in started.items() if len(t) == 2}
    assert sizes == {SOURCE: (0, 0), "270p": (480, 270), "180p": (320, 180)}  # source: copied
    assert [t.kind for t in started[AUDIO_ONLY]] == [TrackKind.AUDIO]


def test_every_rendition_probes_right(
    ladder_run: tuple[Run, RenditionEngine], clip: Clip, tmp_path: Path
) -> None:
    run, engine = ladder_run
    files = run.files(tmp_path)
    expected = {SOURCE: (640, 360), "270p": (480, 270), "180p": (320, 180)}
    for name, (width, height) in expected.items():
        assert decode_errors(files[name]) == ""
        video, audio = probe_streams(files[name])
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", width, height)
        assert int(video["nb_read_frames"]) == len(clip.only(TrackKind.VIDEO))
        assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "44100")
    (audio,) = probe_streams(files[AUDIO_ONLY])
    assert audio["codec_name"] == "aac"
    assert engine.stats.codec_errors == engine.stats.frames_dropped == 0


def test_keyframes_and_segments_are_aligned(
    ladder_run: tuple[Run, RenditionEngine], tmp_path: Path
) -> None:
    run, _ = ladder_run
    files = run.files(tmp_path)
    source = keyframe_times(files[SOURCE])
    assert source == pytest.approx([0.08, 2.08, 4.08, 6.08, 8.08], abs=1e-3)
    for name in ("270p", "180p"):
        assert keyframe_times(files[name]) == pytest.approx(source, abs=1e-3)
        pairs = zip(run.segments[name], run.segments[SOURCE], strict=True)
        for ours, theirs in pairs:
            assert (ours.sequence, ours.keyframe_start) == (theirs.sequence, True)
            assert ours.start == pytest.approx(theirs.start, abs=1e-3)
            assert ours.duration == pytest.approx(theirs.duration, abs=1e-3)
            assert ours.program_date_time == theirs.program_date_time
    assert run.segments[SOURCE][0].program_date_time == T0 + timedelta(seconds=0.05)


def test_a_poster_and_thumbnails_from_the_decoded_frames(clip: Clip, tmp_path: Path) -> None:
    thumbs = ThumbnailCollector(interval=3.0, columns=2, rows=2)
    options = TranscodeOptions(encoder=OPTIONS.encoder, poster_after=5.0, thumbnails=thumbs)
    run, _ = transcode(clip, ladder=LADDER[2:], options=options)
    (poster,) = run.of(PosterReady)
    assert 5.0 <= poster.time < 5.1
    path = tmp_path / "poster.jpg"
    path.write_bytes(poster.jpeg)
    (stream,) = probe_streams(path)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 640, 360)
    assert [round(t.time, 2) for t in thumbs.thumbnails] == [0.08, 3.08, 6.08, 9.08]
    (sheet,) = run.of(SpriteSheetReady)
    assert sheet.sheet == 0 and sheet.jpeg[:2] == b"\xff\xd8"


def test_caption_only_in_transcoded_renditions(clip: Clip, tmp_path: Path) -> None:
    options = TranscodeOptions(encoder=OPTIONS.encoder, overlay=OverlayStyle("Court"))
    run, _ = transcode(clip, ladder=LADDER[2:], options=options, overlay=True)
    files = run.files(tmp_path)
    plain = first_frame(files[SOURCE]).reformat(320, 180).to_ndarray(format="gray")
    captioned = first_frame(files["180p"]).to_ndarray(format="gray")
    difference = abs(plain.astype(float) - captioned.astype(float))
    assert difference[160:176, 4:60].mean() > 20  # the caption box, bottom left
    assert difference[:150].mean() < 5  # the rest: only coding noise


def first_frame(path: Path) -> Any:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def test_reconnect_keeps_renditions_on_one_timeline(clip: Clip) -> None:
    run = Run()
    plan = plan_renditions(clip.tracks, "ladder", ladder=LADDER[2:])
    engine = RenditionEngine(plan, plan.renditions, OPTIONS, run)
    first = [p for p in clip.packets if p.dts < 4000]
    for _ in range(2):  # the publisher comes back with timestamps from 0 again
        engine.start(clip.tracks)
        for packet in first:
            engine.write(packet, arrival(packet))
        engine.flush()
    source, rung = run.segments[SOURCE], run.segments["180p"]
    assert [s.discontinuity for s in source] == [False, False, True, False]
    assert [s.start for s in rung] == pytest.approx([s.start for s in source], abs=1e-3)


def test_a_dropped_rendition_ends_with_its_open_segment(clip: Clip) -> None:
    run = Run()
    plan = plan_renditions(clip.tracks, "ladder", ladder=LADDER)
    engine = RenditionEngine(plan, plan.renditions, OPTIONS, run)
    engine.start(clip.tracks)
    assert engine.droppable() == ["270p", "180p"]
    for index, packet in enumerate(clip.packets):
        engine.write(packet, arrival(packet))
        if index == len(clip.packets) // 2:
            engine.drop("270p", "behind")
    engine.flush()
    assert [e.rendition for e in run.of(RenditionDropped)] == ["270p"]
    assert len(run.segments["270p"]) < len(run.segments["180p"]) == 5
    assert engine.droppable() == ["180p"]


# --- inputs browsers cannot take as they are -------------------------------------------------

V, A = lavfi_video(), lavfi_tone()
H264, AAC = ["-c:v", "libx264", "-g", "50"], ["-c:a", "aac"]  # a 2 s GOP, as encoders send
AWKWARD = {
    "hevc": ("mp4", [*V, *A, "-c:v", "libx265", "-x265-params", "log-level=error",
                     "-tag:v", "hvc1", *AAC]),
    "vp8": ("mkv", [*V, *A, "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", *AAC]),
    "vp9-opus": ("webm", [*V, *lavfi_tone(48000), "-c:v", "libvpx-vp9", "-deadline",
                          "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus"]),
    "opus": ("mp4", [*V, *lavfi_tone(48000), *H264, "-c:a", "libopus"]),
    "mp3": ("flv", [*V, *A, *H264, "-c:a", "libmp3lame"]),
    "aac-22050": ("flv", [*V, *lavfi_tone(22050), *H264, *AAC]),
    "aac-8000": ("mp4", [*V, *lavfi_tone(8000), *H264, *AAC]),
    "vfr": ("mp4", [*V, *A, "-vf", "select='lt(mod(n\\,10)\\,6)'", "-fps_mode", "vfr",
                    *H264, *AAC]),
    "b-frames": ("flv", [*V, *A, *H264, "-bf", "3", *AAC]),
    "no-keyframes": ("flv", [*V, *A, "-c:v", "libx264", "-g", "1000", "-sc_threshold", "0",
                             *AAC]),
}  # fmt: skip
FORCED = {"vfr", "b-frames", "no-keyframes"}  # copyable: transcoded only when asked to


@pytest.mark.parametrize("kind", sorted(AWKWARD))
def test_awkward_input_is_transcoded(kind: str, media_dir: Path, tmp_path: Path) -> None:
    extension, args = AWKWARD[kind]
    clip = load_media(make_media(media_dir / f"{kind}.{extension}", *args, seconds=5))
    run, engine = transcode(clip, ladder=SMALL, force=kind in FORCED)
    files = run.files(tmp_path)
    frames = len(clip.only(TrackKind.VIDEO))
    assert engine.stats.codec_errors == 0
    for name in (SOURCE, "120p"):
        assert decode_errors(files[name]) == ""
        video, audio = probe_streams(files[name])
        assert (video["codec_name"], audio["codec_name"]) == ("h264", "aac")
        assert audio["sample_rate"] in ("44100", "48000")
        assert int(video["nb_read_frames"]) == frames
        keyframes = keyframe_times(files[name])
        gaps = [b - a for a, b in pairwise(keyframes)]
        assert keyframes and max(gaps, default=0) <= 2.0 + 1e-3
        assert all(s.keyframe_start for s in run.segments[name])
    assert keyframe_times(files["120p"]) == pytest.approx(keyframe_times(files[SOURCE]), abs=1e-3)


def test_audio_stays_in_sync_through_the_transcode(media_dir: Path, tmp_path: Path) -> None:
    source = make_media(media_dir / "marked.flv", *marked_source(), "-c:v", "libx264",
                        "-c:a", "libmp3lame", "-ar", "22050", seconds=9)  # fmt: skip
    clip = load_media(source)
    run, _ = transcode(clip, "passthrough", force=True)
    before = sync_offsets(source)
    after = sync_offsets(run.files(tmp_path)[SOURCE])
    assert len(after) == len(before) == 4
    for ours, theirs in zip(after, before, strict=True):  # the input's own offsets, +- 6 ms
        assert ours == pytest.approx(theirs, abs=0.006)


def sync_offsets(path: Path) -> list[float]:
    """Beep onset minus flash time of every marker after the first (encoder start-up)."""
    flashes, beeps = marker_times(path)
    pairs = [(f, min(beeps, key=lambda b: abs(b - f))) for f in flashes if f > 1]
    return [beep - flash for flash, beep in pairs]
