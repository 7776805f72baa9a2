"""Posters, sprite sheets and the WebVTT thumbnails track."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from courtcast.transcode.thumbnails import (
    ThumbnailCollector,
    encode_jpeg,
    make_poster,
    vtt_time,
)
from tests.transcode.clips import probe_streams


def frame(width: int, height: int, value: int = 200) -> av.VideoFrame:
    pixels = np.full((height, width, 3), value, np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


def probe_jpeg(tmp_path: Path, data: bytes) -> tuple[str, int, int]:
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    (stream,) = probe_streams(path)
    return stream["codec_name"], stream["width"], stream["height"]


def test_poster_is_a_jpeg_no_taller_than_720(media_dir: Path, tmp_path: Path) -> None:
    assert probe_jpeg(tmp_path, make_poster(frame(1920, 1080))) == ("mjpeg", 1280, 720)
    assert probe_jpeg(tmp_path, make_poster(frame(640, 360))) == ("mjpeg", 640, 360)


def test_jpeg_keeps_the_picture(tmp_path: Path) -> None:
    data = encode_jpeg(frame(64, 36, 200))
    with av.open(str(_write(tmp_path, data))) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert abs(float(decoded.mean()) - 200) < 4  # full range survived the round trip


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    return path


def test_sprite_sheets_and_vtt(media_dir: Path, tmp_path: Path) -> None:
    collector = ThumbnailCollector(interval=10.0, width=160, columns=2, rows=2)
    completed = []
    for second in range(0, 55):  # one frame a second; one thumbnail every 10 s
        if collector.wants(second):
            completed.append(collector.add(frame(640, 360, second * 4), float(second)))
    assert [t.time for t in collector.thumbnails] == [0, 10, 20, 30, 40, 50]
    assert completed == [None, None, None, 0, None, None]
    assert collector.sheet_count == 2
    assert probe_jpeg(tmp_path, collector.render_sprite(0)) == ("mjpeg", 320, 180)
    assert probe_jpeg(tmp_path, collector.render_sprite(1)) == ("mjpeg", 320, 180)
    vtt = collector.render_vtt(lambda sheet: f"thumbs-{sheet}.jpg")
    lines = vtt.splitlines()
    assert lines[:4] == ["WEBVTT", "", "00:00:00.000 --> 00:00:10.000",
                         "thumbs-0.jpg#xywh=0,0,160,90"]  # fmt: skip
    cue = lines.index("00:00:30.000 --> 00:00:40.000")
    assert lines[cue + 1] == "thumbs-0.jpg#xywh=160,90,160,90"
    assert lines[-2:] == ["00:00:50.000 --> 00:01:00.000", "thumbs-1.jpg#xywh=160,0,160,90"]
    assert vtt.endswith("90\n")


def test_vtt_times() -> None:
    assert vtt_time(3725.5) == "01:02:05.500"
