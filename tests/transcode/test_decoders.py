"""Decoders: audio normalized for AAC and pinned to its timestamps; lone keyframes."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from courtcast.media import TrackKind
from courtcast.transcode.decoders import AudioDecoder, VideoDecoder
from tests.transcode.clips import Clip, lavfi_tone, lavfi_video, load_media, make_media


def test_odd_rate_audio_becomes_48k_frames_of_1024(media_dir: Path) -> None:
    path = make_media(media_dir / "tone8k.mp4", *lavfi_video("64x36"), *lavfi_tone(8000),
                      "-c:v", "libx264", "-c:a", "aac", seconds=3)  # fmt: skip
    clip = load_media(path)
    decoder = AudioDecoder(clip.track(TrackKind.AUDIO), 48000, 2)
    frames = [f for p in clip.only(TrackKind.AUDIO) for f in decoder.decode(p)]
    frames += decoder.flush()
    assert {(f.sample_rate, f.format.name, f.layout.name) for f in frames} == {
        (48000, "fltp", "stereo")
    }
    assert {f.samples for f in frames[:-1]} == {1024}
    assert all(f.time_base == Fraction(1, 48000) for f in frames)
    steps = {b.pts - a.pts for a, b in pairwise(frames)}
    assert steps == {1024}
    # 3 s plus the input's AAC priming and padding (128 ms frames at 8 kHz)
    assert sum(f.samples for f in frames) / 48000 == pytest.approx(3.0, abs=0.3)


def test_a_gap_in_the_audio_is_filled(clip: Clip) -> None:
    audio = clip.only(TrackKind.AUDIO)
    gapped = audio[:50] + [replace(p, dts=p.dts + 500, pts=p.pts + 500) for p in audio[50:]]
    decoder = AudioDecoder(clip.track(TrackKind.AUDIO), 44100, 1)
    frames = [f for p in gapped for f in decoder.decode(p)] + decoder.flush()
    end = frames[-1].pts + frames[-1].samples
    expected = (gapped[-1].pts + 23) / 1000 - gapped[0].pts / 1000  # ms clock, last frame 23 ms
    assert (end - frames[0].pts) / 44100 == pytest.approx(expected, abs=0.03)


def test_lone_keyframes_decode(clip: Clip) -> None:
    decoder = VideoDecoder(clip.track(TrackKind.VIDEO))
    keyframes = [p for p in clip.only(TrackKind.VIDEO) if p.keyframe]
    stills: list[Any] = [decoder.still(p) for p in keyframes]
    assert [s.pts for s in stills] == [p.pts for p in keyframes]
    assert all(s.time_base == Fraction(1, 1000) and s.width == 640 for s in stills)
