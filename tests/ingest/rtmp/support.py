"""Test doubles and helpers for the RTMP server tests."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Sequence

import pytest

from courtcast.ingest.publish import MediaSink, PublishRefused, PublishRequest
from courtcast.media import MediaPacket, TrackInfo, TrackKind


class RecordingSink:
    """The consumer side of the ingest contract: records what the server hands over."""

    def __init__(self, request: PublishRequest, *, fail_after: int | None = None) -> None:
        self.request = request
        self.starts: list[list[TrackInfo]] = []
        self.packets: list[MediaPacket] = []
        self.close_calls = 0
        self.fail_after = fail_after

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        assert self.close_calls == 0, "start() after close()"
        self.starts.append(list(tracks))

    def write(self, packet: MediaPacket) -> None:
        assert self.close_calls == 0, "write() after close()"
        assert self.starts, "write() before start()"
        if self.fail_after is not None and len(self.packets) >= self.fail_after:
            raise RuntimeError("disk full (simulated)")
        self.packets.append(packet)

    async def close(self) -> None:
        self.close_calls += 1

    def of(self, kind: TrackKind) -> list[MediaPacket]:
        return [p for p in self.packets if p.kind == kind]


class RecordingAuthorizer:
    """Accepts keys starting with "good", refuses everything else as unknown."""

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.requests: list[PublishRequest] = []
        self.sinks: list[RecordingSink] = []
        self.fail_after = fail_after

    async def begin_publish(self, request: PublishRequest) -> MediaSink:
        self.requests.append(request)
        if not request.stream_key.startswith("good"):
            raise PublishRefused("unknown_key", "unknown stream key")
        sink = RecordingSink(request, fail_after=self.fail_after)
        self.sinks.append(sink)
        return sink

    def sink(self, key: str) -> RecordingSink:
        [sink] = [s for s in self.sinks if s.request.stream_key == key]
        return sink


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="needs the ffmpeg CLI (apt-get install ffmpeg)")


async def ffmpeg_publish(url: str, *input_args: str, seconds: float = 40.0) -> tuple[int, str]:
    """Run an ffmpeg publisher to the end; return its exit code and error output."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", *input_args, "-f", "flv", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(process.communicate(), seconds)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode(errors="replace")


async def until(condition: Callable[[], bool], seconds: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)
