from __future__ import annotations

from pathlib import Path

import pytest

from tests.transcode.clips import FFMPEG, FFPROBE, Clip, load_clip, make_clip


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (FFMPEG and FFPROBE):
        pytest.skip("the ffmpeg and ffprobe CLIs are needed (apt-get install ffmpeg)")
    return tmp_path_factory.mktemp("transcode-media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Clip:
    """10 s of 640x360 at 25 fps, a keyframe every 2 s, B-frames, AAC mono 44.1 kHz."""
    return load_clip(make_clip(media_dir / "clip.flv", size="640x360", seconds=10))


@pytest.fixture(scope="session")
def other_clip(media_dir: Path) -> Clip:
    """A different configuration: 320x240 at 30 fps, keyframe every second."""
    return load_clip(make_clip(media_dir / "other.flv", size="320x240", seconds=4, rate=30, gop=30))
