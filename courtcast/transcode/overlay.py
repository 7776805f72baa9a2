"""Burned-in caption of transcoded renditions: the frame's wall-clock time and the court's name.

PyAV's FFmpeg has no drawtext (no libfreetype), so the caption is drawn here: Pillow renders the
text once per change (once a second) into an alpha mask, and every frame blends the mask into
the Y plane of the yuv420p frame in place, over a dimmed, desaturated box. Needs Pillow (imported
when the first overlay is made) and, for Chinese court names, a CJK font (fonts-wqy-microhei).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

FONT_CANDIDATES = (  # CJK fonts first: they also cover Latin and digits
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
TEXT_HEIGHT = 0.045  # of the frame height
MIN_FONT = 10
WHITE = 235  # video-range white
DIM = 115  # box luma and chroma saturation are scaled by DIM/256
CACHE = 4  # masks kept: this second's and a few recent ones

U16 = npt.NDArray[np.uint16]


@dataclass(frozen=True, slots=True)
class OverlayStyle:
    court_name: str = ""
    tz: tzinfo = UTC  # the court's time zone
    time_format: str = "%Y-%m-%d %H:%M:%S"
    font_path: str | None = None  # None: the first of FONT_CANDIDATES that exists

    def caption(self, when: datetime) -> str:
        stamp = when.astimezone(self.tz).strftime(self.time_format)
        return f"{stamp}  {self.court_name}" if self.court_name else stamp


def default_font() -> str | None:
    return next((path for path in FONT_CANDIDATES if os.path.exists(path)), None)


@dataclass(frozen=True, slots=True)
class _Mask:
    alpha: U16  # 0..256 per pixel of the box
    x: int
    y: int  # top-left of the box, even (chroma is subsampled)


class TextOverlay:
    """Caption of one frame size; `apply` modifies a writable yuv420p frame in place."""

    def __init__(self, style: OverlayStyle, width: int, height: int) -> None:
        from PIL import ImageFont  # Pillow only where captions are wanted

        self.style = style
        self.width, self.height = width, height
        size = max(MIN_FONT, round(height * TEXT_HEIGHT))
        path = style.font_path or default_font()
        self._font: Any = ImageFont.truetype(path, size) if path else ImageFont.load_default(size)
        self._pad = max(2, size // 4) // 2 * 2
        self._masks: OrderedDict[str, _Mask] = OrderedDict()

    def apply(self, frame: Any, when: datetime) -> None:
        mask = self._mask(self.style.caption(when))
        rows, cols = mask.alpha.shape
        y = _plane(frame, 0)[mask.y : mask.y + rows, mask.x : mask.x + cols]
        dimmed = (y.astype(np.uint16) * DIM) >> 8
        y[...] = dimmed + (((WHITE - dimmed) * mask.alpha) >> 8)
        for index in (1, 2):
            chroma = _plane(frame, index)[
                mask.y // 2 : (mask.y + rows) // 2, mask.x // 2 : (mask.x + cols) // 2
            ]
            chroma[...] = 128 + (((chroma.astype(np.int16) - 128) * DIM) >> 8)

    def _mask(self, text: str) -> _Mask:
        mask = self._masks.get(text)
        if mask is None:
            mask = self._render(text)
            self._masks[text] = mask
            if len(self._masks) > CACHE:
                self._masks.popitem(last=False)
        return mask

    def _render(self, text: str) -> _Mask:
        from PIL import Image, ImageDraw

        left, top, right, bottom = self._font.getbbox(text)
        pad = self._pad
        width = min(_even(right - left + 2 * pad), self.width - 2 * pad)
        height = min(_even(bottom - top + 2 * pad), self.height)
        image = Image.new("L", (width, height), 0)
        ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=255, font=self._font)
        alpha = np.asarray(image, dtype=np.uint16)
        alpha = alpha + (alpha >> 7)  # 0..255 -> 0..256, so 255 is fully opaque
        x = pad
        y = max(0, (self.height - height - pad) // 2 * 2)
        return _Mask(alpha, x, y)


def _even(value: int) -> int:
    return (value + 1) // 2 * 2


def _plane(frame: Any, index: int) -> npt.NDArray[np.uint8]:
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: plane.height, : plane.width]
