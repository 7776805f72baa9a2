"""RTMP ingest: a publisher-only RTMP server written for CourtCast.

Pure protocol layers (`handshake`, `chunk`, `amf0`, `flv`, `messages`, `tracks`) are separate
from the asyncio I/O in `server`, so each can be tested byte for byte.
"""

from courtcast.ingest.rtmp.server import RtmpConnection, RtmpServer

__all__ = ["RtmpConnection", "RtmpServer"]
