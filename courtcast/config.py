"""Typed, validated configuration: command-line options over environment over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


class ConfigError(ValueError):
    """A setting is malformed; the message names the option and what is expected."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, option: str) -> HostPort:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"{option} must be HOST:PORT, got {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    http: HostPort
    rtmp: HostPort
    database_url: str
    storage_url: str
    s3_endpoint: str | None = None
    public_media_url: str | None = None
    segment_seconds: float = 2.0
    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0

    @property
    def media_dir(self) -> Path | None:
        """The local media root when storage is a `file://` URL."""
        parsed = urlparse(self.storage_url)
        return Path(parsed.path) if parsed.scheme == "file" else None


ENV = {
    "data": "COURTCAST_DATA",
    "http": "COURTCAST_HTTP",
    "rtmp": "COURTCAST_RTMP",
    "database": "COURTCAST_DATABASE_URL",
    "storage": "COURTCAST_STORAGE_URL",
    "s3_endpoint": "COURTCAST_S3_ENDPOINT",
    "public_media_url": "COURTCAST_PUBLIC_MEDIA_URL",
}


def _pick(value: str | None, name: str) -> str | None:
    return value if value is not None else os.environ.get(ENV[name]) or None


def load(
    *,
    data: str | None = None,
    http: str | None = None,
    rtmp: str | None = None,
    database: str | None = None,
    storage: str | None = None,
    s3_endpoint: str | None = None,
    public_media_url: str | None = None,
) -> Config:
    """Resolve each setting from its option, then its environment variable, then the default."""
    data_dir = Path(_pick(data, "data") or "./courtcast-data").resolve()
    database_url = _pick(database, "database") or f"sqlite:///{data_dir / 'catalog.db'}"
    storage_url = _pick(storage, "storage") or f"file://{data_dir / 'media'}"
    if urlparse(storage_url).scheme not in ("file", "s3"):
        raise ConfigError(
            f"--storage must be file://PATH or s3://BUCKET/PREFIX, got {storage_url!r}"
        )
    media_url = _pick(public_media_url, "public_media_url")
    if media_url and urlparse(media_url).scheme not in ("http", "https"):
        raise ConfigError(f"--public-media-url must be an http(s) URL, got {media_url!r}")
    return Config(
        data_dir=data_dir,
        http=HostPort.parse(_pick(http, "http") or "127.0.0.1:8080", "--http"),
        rtmp=HostPort.parse(_pick(rtmp, "rtmp") or "127.0.0.1:1935", "--rtmp"),
        database_url=database_url,
        storage_url=storage_url,
        s3_endpoint=_pick(s3_endpoint, "s3_endpoint"),
        public_media_url=media_url.rstrip("/") if media_url else None,
    )
