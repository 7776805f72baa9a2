"""Shared test helpers: free ports, ffprobe, HTTP polling. Real tools only, no fakes."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ffprobe_json(target: str | Path, *args: str) -> dict[str, Any]:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe is needed (apt-get install ffmpeg)"
    result = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", *args, str(target)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"ffprobe failed on {target}: {result.stderr}"
    data: dict[str, Any] = json.loads(result.stdout or "{}")
    return data


def decode_errors(target: str | Path, *input_args: str) -> str:
    """Decode every frame with the ffmpeg CLI; return what it reported as errors."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-xerror", *input_args, "-i", str(target),
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    return result.stderr if result.returncode else result.stderr.strip()


def video_frames(target: str | Path) -> int:
    data = ffprobe_json(target, "-select_streams", "v:0", "-count_packets",
                        "-show_entries", "stream=nb_read_packets")
    return int(data["streams"][0]["nb_read_packets"])


def media_duration(target: str | Path, *input_args: str) -> float:
    """Seconds of video from the first frame shown to the end of the last one.

    Measured on the packets, because a container's duration field may count from zero when
    the media starts later on the hearing's timeline.
    """
    data = ffprobe_json(target, *input_args, "-select_streams", "v:0",
                        "-show_entries", "packet=pts_time,duration_time")
    packets = [p for p in data["packets"] if "pts_time" in p]
    assert packets, f"no video packets in {target}"
    first = min(float(p["pts_time"]) for p in packets)
    last = max(packets, key=lambda p: float(p["pts_time"]))
    return float(last["pts_time"]) + float(last.get("duration_time", 0)) - first


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, interval: float = 0.25
) -> T:
    """Poll `probe` until it returns something truthy, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
