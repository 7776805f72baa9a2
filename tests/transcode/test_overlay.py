"""The burned-in caption: where it is drawn, what it says, what it leaves alone."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import av
import numpy as np
import pytest

from courtcast.transcode.overlay import OverlayStyle, TextOverlay, default_font

pytest.importorskip("PIL", reason="the caption needs Pillow")

WHEN = datetime(2026, 11, 21, 2, 0, 3, tzinfo=UTC)
STYLE = OverlayStyle("北京市朝阳区人民法院", tz=ZoneInfo("Asia/Shanghai"))


def gray_frame(width: int = 640, height: int = 360) -> av.VideoFrame:
    pixels = np.full((height, width, 3), 90, np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


def luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(int)


def test_caption_text_in_the_courts_time_zone() -> None:
    assert STYLE.caption(WHEN) == "2026-11-21 10:00:03  北京市朝阳区人民法院"
    assert OverlayStyle().caption(WHEN) == "2026-11-21 02:00:03"


def test_caption_is_drawn_bottom_left_and_nowhere_else() -> None:
    plain, captioned = gray_frame(), gray_frame()
    TextOverlay(STYLE, 640, 360).apply(captioned, WHEN)
    changed = np.argwhere(luma(plain) != luma(captioned))
    top, left = changed.min(axis=0)
    bottom, _right = changed.max(axis=0)
    assert top > 300 and bottom < 360 and left < 20  # a box along the bottom left
    text = luma(captioned)[top:bottom, left:]
    assert text.max() > 200 and text.min() < 60  # white text on a dimmed box


def test_the_caption_follows_the_clock() -> None:
    overlay = TextOverlay(STYLE, 320, 180)
    first, second = gray_frame(320, 180), gray_frame(320, 180)
    overlay.apply(first, WHEN)
    overlay.apply(second, WHEN.replace(second=4))
    assert not np.array_equal(luma(first), luma(second))


def test_a_font_with_chinese_glyphs_is_found() -> None:
    font = default_font()
    if font is None or ("wqy" not in font and "CJK" not in font):
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    assert font.endswith((".ttc", ".ttf"))


def test_caption_cost_is_printed() -> None:
    """Not a timing assertion: the number is for the report (pytest -s)."""
    overlay, frame = TextOverlay(STYLE, 1280, 720), gray_frame(1280, 720)
    start = time.perf_counter()
    for index in range(50):
        overlay.apply(frame, WHEN.replace(second=index // 25))
    print(f"caption on 720p: {(time.perf_counter() - start) / 50 * 1e3:.3f} ms per frame")
