"""The contract between an ingest protocol server and what consumes its media.

A protocol server (RTMP, WHIP) asks a `PublishAuthorizer` for permission when a publisher
announces a stream key. On success it receives a `MediaSink`, declares the tracks with
`start()`, then hands over packets with `write()` and calls `close()` when the publisher goes
away, whether cleanly or not. Nothing protocol-specific crosses this boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from courtcast.media import MediaPacket, TrackInfo


@dataclass(frozen=True, slots=True)
class PublishRequest:
    protocol: str  # "rtmp" or "whip"
    stream_key: str
    remote: str  # "host:port" of the publisher, for logs and audit
    app: str = ""  # RTMP application name ("live"); empty for WHIP


class PublishRefused(Exception):
    """The publisher may not publish. `code` is machine-readable, `message` is for humans."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PacketConsumer(Protocol):
    """Takes a stream's tracks, then its packets: a sink's synchronous half, or a monitor."""

    def start(self, tracks: Sequence[TrackInfo]) -> None:
        """Declare the tracks that follow. A later call means the configuration changed."""

    def write(self, packet: MediaPacket) -> None:
        """Accept one packet. Must not block: the caller is the protocol's event loop."""


class MediaSink(PacketConsumer, Protocol):
    async def close(self) -> None:
        """The publisher is gone. Everything written so far must be kept."""


class PublishAuthorizer(Protocol):
    async def begin_publish(self, request: PublishRequest) -> MediaSink:
        """Return the sink for an authorised publisher, or raise `PublishRefused`."""
        ...
