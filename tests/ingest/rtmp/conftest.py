"""Fixtures for the RTMP server tests: servers with a recording authorizer, a source clip."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from courtcast.ingest.rtmp.server import RtmpServer

from .support import RecordingAuthorizer

ServerFactory = Callable[..., Awaitable[tuple[RtmpServer, RecordingAuthorizer]]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    servers: list[RtmpServer] = []

    async def factory(**options: Any) -> tuple[RtmpServer, RecordingAuthorizer]:
        authorizer = options.pop("authorizer", None) or RecordingAuthorizer()
        settings: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "handshake_timeout": 2.0,
                                    "idle_timeout": 3.0}
        server = RtmpServer(authorizer, **(settings | options))
        await server.start()
        servers.append(server)
        return server, authorizer

    yield factory
    for server in servers:
        await server.close()


@pytest.fixture(scope="session")
def source_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 640x360 H.264 (keyframe every 2 s) and 44.1 kHz AAC, encoded once."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg CLI")
    path = tmp_path_factory.mktemp("rtmp") / "source.flv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264",
         "-preset", "veryfast", "-g", "50", "-c:a", "aac", "-t", "3", str(path)],
        check=True, timeout=120)
    return path
