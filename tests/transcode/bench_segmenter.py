"""CPU cost and output lag of the segmenter (not a test; run it by hand).

    python -m tests.transcode.bench_segmenter [clip.flv]

Without an argument it makes 60 s of 3 Mbit/s 720p30 H.264 + 128 kbit/s AAC with the ffmpeg CLI.
Packets are demuxed up front, so the number is the segmenter's own cost per media minute.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from courtcast.media import TrackKind
from courtcast.transcode.segmenter import Segmenter
from tests.transcode.clips import FFMPEG, load_clip


def make_bench_clip(directory: Path) -> Path:
    import subprocess

    assert FFMPEG
    path = directory / "bench720.flv"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-c:v", "libx264", "-preset",
         "veryfast", "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M", "-g", "60", "-bf", "2",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-t", "60", str(path)],
        check=True,
    )  # fmt: skip
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else make_bench_clip(Path(tmp))
        clip = load_clip(path)
    media_seconds = (clip.packets[-1].dts - clip.packets[0].dts) / 1000
    segmenter = Segmenter(2.0)
    segmenter.start(clip.tracks)
    lags: list[float] = []
    keyframe_at = 0.0
    cpu = time.process_time()
    for packet in clip.packets:
        if packet.kind is TrackKind.VIDEO and packet.keyframe:
            keyframe_at = time.perf_counter()
        if segmenter.write(packet):
            lags.append(time.perf_counter() - keyframe_at)
    outputs = segmenter.flush()
    cpu = time.process_time() - cpu
    size = sum(len(p.data) for p in clip.packets)
    rate = size * 8 / media_seconds / 1e6
    print(f"{len(clip.packets)} packets, {media_seconds:.1f} s, {rate:.2f} Mbit/s")
    print(f"CPU: {cpu * 60 / media_seconds:.3f} CPU-s per media minute "
          f"({cpu / len(clip.packets) * 1e6:.1f} us per packet)")  # fmt: skip
    print(f"segments: {len(lags) + len(outputs)}, peak {segmenter.bandwidth.bandwidth} bit/s, "
          f"average {segmenter.bandwidth.average} bit/s")  # fmt: skip
    print(f"lag keyframe write -> segment out: max {max(lags) * 1e3:.2f} ms (wall, CPU-bound)")


if __name__ == "__main__":
    main()
