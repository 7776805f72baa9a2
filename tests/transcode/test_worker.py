"""LiveTranscoder: the copied source in the caller's thread, the rest in a worker thread."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

import pytest

from courtcast import metrics
from courtcast.media import TrackInfo, TrackKind
from courtcast.transcode.encoders import EncoderSettings
from courtcast.transcode.ladder import AUDIO_ONLY, SOURCE, Rung
from courtcast.transcode.renditions import (
    Event,
    PosterReady,
    RenditionDropped,
    RenditionSegment,
    RenditionStarted,
    TranscodeOptions,
)
from courtcast.transcode.thumbnails import ThumbnailCollector
from courtcast.transcode.worker import LiveTranscoder
from tests.helpers import decode_errors
from tests.transcode.clips import Clip, write_file

LADDER = (Rung("270p", 270, 400_000), Rung("180p", 180, 200_000))
ENCODER = EncoderSettings(preset="ultrafast")


class Collected:
    """A thread-safe `emit` that remembers which thread emitted what."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append((threading.current_thread().name, event))

    def segments(self) -> dict[str, list[RenditionSegment]]:
        found: dict[str, list[RenditionSegment]] = defaultdict(list)
        for _, event in self.events:
            if isinstance(event, RenditionSegment):
                found[event.rendition].append(event)
        return found

    def threads(self, rendition: str) -> set[str]:
        return {t for t, e in self.events if getattr(e, "rendition", None) == rendition}


def feed(transcoder: LiveTranscoder, clip: Clip) -> None:
    transcoder.start(clip.tracks)
    for packet in clip.packets:
        transcoder.write(packet)
    transcoder.flush_nowait().result(timeout=120)
    transcoder.close()


def test_passthrough_copies_inline_and_decodes_only_keyframes(clip: Clip) -> None:
    got = Collected()
    thumbs = ThumbnailCollector(interval=4.0)
    options = TranscodeOptions(thumbnails=thumbs, poster_after=3.0)
    transcoder = LiveTranscoder("passthrough", got, options=options)
    feed(transcoder, clip)
    assert [s.output.sequence for s in got.segments()[SOURCE]] == [0, 1, 2, 3, 4]
    assert got.threads(SOURCE) == {threading.current_thread().name}
    assert [round(t.time, 2) for t in thumbs.thumbnails] == [0.08, 4.08, 8.08]
    (poster,) = [e for _, e in got.events if isinstance(e, PosterReady)]
    assert poster.time == pytest.approx(4.08)  # the first keyframe after 3 s
    assert transcoder.engine is not None
    assert transcoder.engine.stats.frames_decoded == 0  # stills only, no frame-by-frame decode


def test_ladder_runs_in_a_worker_thread(clip: Clip, tmp_path: Path) -> None:
    got = Collected()
    options = TranscodeOptions(encoder=ENCODER)
    transcoder = LiveTranscoder("ladder", got, options=options, ladder=LADDER, name="h1")
    feed(transcoder, clip)
    segments = got.segments()
    assert set(segments) == {SOURCE, "270p", "180p", AUDIO_ONLY}
    assert got.threads("180p") == {"transcode-h1"}
    for name in ("270p", "180p"):
        assert [s.output.start for s in segments[name]] == pytest.approx(
            [s.output.start for s in segments[SOURCE]], abs=1e-3
        )
        path = write_file(tmp_path, f"{name}.mp4", [s.output for s in segments[name]])
        assert decode_errors(path) == ""
    started = [e for _, e in got.events if isinstance(e, RenditionStarted)]
    assert {e.rendition for e in started} == set(segments)


def test_falling_behind_drops_the_top_rung(clip: Clip) -> None:
    got = Collected()
    worker = "transcode-slow"

    def monotonic() -> float:  # every packet seems to wait 100 s in the queue
        return 100.0 if threading.current_thread().name == worker else 0.0

    before = metrics.RENDITIONS_DROPPED.labels("270p")._value.get()
    transcoder = LiveTranscoder("ladder", got, options=TranscodeOptions(encoder=ENCODER),
                                ladder=LADDER, name="slow", monotonic=monotonic)  # fmt: skip
    feed(transcoder, clip)
    dropped = [e for _, e in got.events if isinstance(e, RenditionDropped)]
    assert [e.rendition for e in dropped] == ["270p"]  # then a cooldown: one rung at a time
    assert "behind real time" in dropped[0].reason
    assert transcoder.lag == pytest.approx(100.0)
    assert metrics.RENDITIONS_DROPPED.labels("270p")._value.get() == before + 1
    assert len(got.segments()["180p"]) == 5 and len(got.segments()["270p"]) <= 1


def test_a_stalled_worker_loses_packets_but_never_the_source(clip: Clip) -> None:
    release = threading.Event()
    got = Collected()

    def emit(event: Event) -> None:
        if threading.current_thread().name.startswith("transcode-"):
            release.wait(timeout=60)  # the worker is stuck until every packet was written
        got(event)

    transcoder = LiveTranscoder("ladder", emit, options=TranscodeOptions(encoder=ENCODER),
                                ladder=LADDER[1:], queue_limit=50)  # fmt: skip
    transcoder.start(clip.tracks)
    for packet in clip.packets:
        transcoder.write(packet)
    release.set()
    transcoder.flush_nowait().result(timeout=120)
    transcoder.close()
    assert transcoder.packets_dropped > 0
    assert [s.output.sequence for s in got.segments()[SOURCE]] == [0, 1, 2, 3, 4]
    dropped = [e.rendition for _, e in got.events if isinstance(e, RenditionDropped)]
    assert dropped == ["180p"]  # shed at once


async def test_flush_and_close_from_the_event_loop(clip: Clip) -> None:
    got = Collected()
    transcoder = LiveTranscoder("ladder", got, options=TranscodeOptions(encoder=ENCODER),
                                ladder=LADDER[1:])  # fmt: skip
    transcoder.start(clip.tracks)
    for packet in clip.packets[:200]:
        transcoder.write(packet)
    await transcoder.flush()
    assert got.segments()["180p"]
    await transcoder.aclose()


def test_a_reconnect_with_another_kind_of_media_is_refused(clip: Clip) -> None:
    transcoder = LiveTranscoder("passthrough", Collected())
    transcoder.start(clip.tracks)
    hevc = TrackInfo(TrackKind.VIDEO, "hevc", b"", width=640, height=360)
    with pytest.raises(ValueError, match="kind of media"):
        transcoder.start([hevc, clip.track(TrackKind.AUDIO)])
    transcoder.close()


def test_media_without_a_decoder_is_refused_up_front(clip: Clip) -> None:
    transcoder = LiveTranscoder("passthrough", Collected())
    assert transcoder.flush_nowait().done()  # nothing was ever started
    odd = TrackInfo(TrackKind.VIDEO, "no-such-codec", b"", width=64, height=64)
    with pytest.raises(ValueError, match="no decoder"):
        transcoder.start([odd])
