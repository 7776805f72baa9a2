"""Posters and seek-bar previews, from frames something else already decoded.

JPEGs come from PyAV's mjpeg encoder (no image library needed). Preview thumbnails are tiled
into sprite sheets (JPEG) described by a WebVTT track whose cues point at `sheet.jpg#xywh=x,y,w,h`
(the convention players such as Video.js, Plyr and Vidstack read). Only the sheet being filled is
kept raw (a few hundred KB); full sheets are kept as JPEG.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter

JPEG_QUALITY = 5  # mjpeg qscale: 2 best .. 31 worst
POSTER_MAX_HEIGHT = 720


def encode_jpeg(frame: Any, quality: int = JPEG_QUALITY) -> bytes:
    """Any video frame as a baseline JPEG of the same size."""
    ctx: Any = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.qmin = ctx.qmax = quality
    ctx.open()
    full_range = frame.reformat(format="yuvj420p")  # swscale expands video range to full
    packets = list(ctx.encode(full_range)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def make_poster(frame: Any, max_height: int = POSTER_MAX_HEIGHT) -> bytes:
    """A poster JPEG of the frame, no taller than `max_height`."""
    height = min(frame.height, max_height) // 2 * 2
    width = max(2, round(frame.width * height / frame.height / 2) * 2)
    scaled = frame.reformat(width, height, "yuv420p", interpolation="BICUBIC")
    return encode_jpeg(scaled)


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


@dataclass(frozen=True, slots=True)
class Thumbnail:
    time: float  # seconds on the hearing's timeline (= position in the replay)
    sheet: int
    x: int
    y: int


class ThumbnailCollector:
    """Thumbnails every `interval` seconds, tiled `columns` x `rows` per sprite sheet.

    `add` is called by the transcoding thread; `render_*` may be called from any thread.
    """

    def __init__(
        self,
        interval: float = 10.0,
        width: int = 160,
        columns: int = 5,
        rows: int = 5,
    ) -> None:
        self.interval = interval
        self.width = width // 2 * 2
        self.height = 0  # from the first frame's aspect ratio
        self.columns, self.rows = columns, rows
        self.thumbnails: list[Thumbnail] = []
        self._sheets: list[bytes] = []  # JPEGs of full sheets
        self._planes: list[npt.NDArray[np.uint8]] = []  # Y, U, V of the sheet being filled
        self._next = 0.0
        self._scaler = VideoReformatter()
        self._lock = threading.Lock()

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def wants(self, t: float) -> bool:
        """Is a frame at `t` due? Check before decoding or scaling anything for it."""
        return t >= self._next

    def add(self, frame: Any, t: float) -> int | None:
        """Take `frame` if one is due at `t`; returns the index of a sheet it completed."""
        if not self.wants(t):
            return None
        if not self.height:
            self.height = max(2, round(self.width * frame.height / frame.width / 2) * 2)
        small = self._scaler.reformat(
            frame, self.width, self.height, "yuv420p", interpolation="BILINEAR"
        )
        with self._lock:
            return self._place(small, t)

    def _place(self, small: Any, t: float) -> int | None:
        index = len(self.thumbnails) % self.per_sheet
        sheet = len(self.thumbnails) // self.per_sheet
        if index == 0:
            self._planes = self._blank_sheet()
        column, row = index % self.columns, index // self.columns
        x, y = column * self.width, row * self.height
        for plane, target in zip(small.planes, self._planes, strict=True):
            scale = 1 if target is self._planes[0] else 2
            source = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            rows, cols = plane.height, plane.width
            target[y // scale : y // scale + rows, x // scale : x // scale + cols] = source[
                :rows, :cols
            ]
        self.thumbnails.append(Thumbnail(t, sheet, x, y))
        self._next = t + self.interval
        if index == self.per_sheet - 1:
            self._sheets.append(self._encode_current())
            return sheet
        return None

    def _blank_sheet(self) -> list[npt.NDArray[np.uint8]]:
        width, height = self.width * self.columns, self.height * self.rows
        luma = np.full((height, width), 16, np.uint8)
        return [luma, *(np.full((height // 2, width // 2), 128, np.uint8) for _ in range(2))]

    def _encode_current(self) -> bytes:
        height, width = self._planes[0].shape
        frame: Any = av.VideoFrame(width, height, "yuv420p")
        for plane, source in zip(frame.planes, self._planes, strict=True):
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            rows[: source.shape[0], : source.shape[1]] = source
        return encode_jpeg(frame)

    @property
    def sheet_count(self) -> int:
        with self._lock:
            return (len(self.thumbnails) + self.per_sheet - 1) // self.per_sheet

    def render_sprite(self, sheet: int = 0) -> bytes:
        """JPEG of one sheet; the last one may be partly filled (unused tiles are black)."""
        with self._lock:
            if sheet < len(self._sheets):
                return self._sheets[sheet]
            if sheet == len(self._sheets) and self.thumbnails and self._planes:
                return self._encode_current()
        raise IndexError(f"no sprite sheet {sheet}")

    def render_vtt(self, sheet_url: str | Callable[[int], str]) -> str:
        """WebVTT thumbnails track; `sheet_url` is a URL (one sheet) or sheet index -> URL."""
        url = sheet_url if callable(sheet_url) else (lambda _sheet: sheet_url)
        with self._lock:
            thumbnails = list(self.thumbnails)
        lines = ["WEBVTT", ""]
        for index, thumb in enumerate(thumbnails):
            start = 0.0 if index == 0 else thumb.time  # the seek bar starts at 0
            end = (
                thumbnails[index + 1].time
                if index + 1 < len(thumbnails)
                else thumb.time + self.interval
            )
            lines += [
                f"{vtt_time(start)} --> {vtt_time(end)}",
                f"{url(thumb.sheet)}#xywh={thumb.x},{thumb.y},{self.width},{self.height}",
                "",
            ]
        return "\n".join(lines)
