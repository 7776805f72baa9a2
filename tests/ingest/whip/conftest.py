"""VP9 from the ffmpeg CLI, encoded once for the VP9 and transcoding tests."""

from __future__ import annotations

import pytest

from .vp9_rtp import Frames, ffmpeg_frames


@pytest.fixture(scope="session")
def alt_ref_frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    """Two-pass VP9: hidden alt-ref frames travel in superframes with the next shown frame."""
    target = tmp_path_factory.mktemp("vp9") / "arf.ivf"
    return ffmpeg_frames(target, "-frames:v", "40", "-auto-alt-ref", "1", "-lag-in-frames",
                         "16", "-deadline", "good", "-cpu-used", "4", "-b:v", "200k",
                         passes=("1", "2"))


@pytest.fixture(scope="session")
def profile2_frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    """VP9 profile 2: 10-bit 4:2:0."""
    target = tmp_path_factory.mktemp("vp9") / "p2.ivf"
    return ffmpeg_frames(target, "-frames:v", "10", "-pix_fmt", "yuv420p10le", "-deadline",
                         "realtime", "-cpu-used", "8", "-lag-in-frames", "0")
