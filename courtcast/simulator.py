"""A simulated courtroom encoder: the ffmpeg CLI publishing over RTMP like a real encoder.

Used by `courtcast demo`, the end-to-end tests and the benchmarks, so all of them exercise
the real ingest path with a real, independent RTMP implementation on the other end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

log = logging.getLogger("courtcast.simulator")

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CLOCK_TEXT = Path(__file__).with_name("simulator-clock.txt")


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    width: int = 1280
    height: int = 720
    fps: int = 25
    video_bitrate: str = "1500k"
    gop_seconds: float = 2.0
    audio_rate: int = 44100
    caption: str = "CourtCast simulated courtroom"


def ffmpeg_binary() -> str:
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise RuntimeError(
            "the ffmpeg CLI is needed for the simulated courtroom: apt-get install ffmpeg"
        )
    return binary


def _caption(video: Any, settings: EncoderSettings) -> Any:
    """Caption and wall-clock time, the way courtroom encoders stamp their picture."""
    if not FONT.exists():
        return video
    common = {"fontfile": str(FONT), "fontcolor": "white", "box": 1, "boxcolor": "black@0.6",
              "fontsize": max(16, settings.height // 24)}
    video = video.drawtext(text=settings.caption, x=20, y=40, **common)
    # From a file, because ffmpeg-python escapes the '%' that drawtext's expansion needs.
    return video.drawtext(textfile=str(CLOCK_TEXT), x=20, y="h-th-20", **common)


def publish_command(
    url: str,
    *,
    duration: float | None = None,
    realtime: bool = True,
    settings: EncoderSettings | None = None,
    source: Path | None = None,
) -> list[str]:
    """The ffmpeg command line that publishes a test picture and tone (or `source`) to `url`."""
    s = settings or EncoderSettings()
    input_options: dict[str, Any] = {"re": None} if realtime else {}
    if source is not None:
        stream = ffmpeg.input(str(source), **input_options)
        out = ffmpeg.output(stream, url, c="copy", f="flv")
    else:
        video = ffmpeg.input(f"testsrc2=size={s.width}x{s.height}:rate={s.fps}", f="lavfi",
                             **input_options)
        audio = ffmpeg.input(f"sine=frequency=440:sample_rate={s.audio_rate}", f="lavfi",
                             **input_options)
        video = _caption(video, s)
        out = ffmpeg.output(
            video, audio, url, f="flv", vcodec="libx264", preset="veryfast", tune="zerolatency",
            pix_fmt="yuv420p", g=int(s.fps * s.gop_seconds), keyint_min=int(s.fps * s.gop_seconds),
            sc_threshold=0, video_bitrate=s.video_bitrate, acodec="aac", audio_bitrate="96k",
            **({"t": duration} if duration is not None else {}),
        )
    return [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin",
            *out.get_args()]


async def publish(url: str, **kwargs: Any) -> int:
    """Publish once and return ffmpeg's exit code (0 when the server accepted everything)."""
    process = await asyncio.create_subprocess_exec(
        *publish_command(url, **kwargs),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await process.communicate()
    except asyncio.CancelledError:  # the caller is stopping: so does this encoder
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode:
        log.warning("publisher to %s exited %s: %s", url.rsplit("/", 1)[0], process.returncode,
                    stderr.decode(errors="replace").strip()[-500:])
    return process.returncode or 0


class SimulatedCourtroom:
    """Publishes a live feed until stopped, reconnecting like a real encoder when dropped."""

    def __init__(self, url: str, settings: EncoderSettings | None = None) -> None:
        self.url = url
        self.settings = settings or EncoderSettings()
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="simulated-courtroom")

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            self._process = await asyncio.create_subprocess_exec(
                *publish_command(self.url, settings=self.settings),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            code = await self._process.wait()
            log.warning("simulated courtroom encoder exited (%s); reconnecting in %.0f s",
                        code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await self._process.wait()
