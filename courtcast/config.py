"""Typed, validated configuration: command-line options over environment over defaults."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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


ADDRESSING_STYLES = ("auto", "path", "virtual")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs live at most a week
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class S3Settings:
    """S3 storage tuning; credentials and region come from the standard AWS settings."""

    addressing_style: str = "auto"  # 'path' for MinIO/Ceph without wildcard DNS
    signed_url_seconds: int = 0  # > 0: private bucket, viewers get presigned URLs
    concurrency: int = 8  # uploads in flight at once
    spool_limit: int = 10 * 1024**3  # bytes spooled before the alarm (nothing is dropped)


def parse_size(text: str, option: str) -> int:
    """'10G', '512M', '1048576' -> bytes."""
    number, unit = text.strip().upper().rstrip("IB"), ""
    if number and number[-1] in SIZE_UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(f"{option} must be a size such as 10G or 512M, got {text!r}")
    return int(value)


def _positive_int(text: str, option: str, maximum: int) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= maximum:
        raise ConfigError(f"{option} must be a whole number from 0 to {maximum}, got {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class WebRtcSettings:
    """WHIP ingest and WHEP monitor peer connections: what ICE offers, which servers help it."""

    hosts: tuple[str, ...] = ()  # addresses for ICE host candidates; () = every interface
    public_ip: str = ""  # NAT 1:1 (cloud VMs): the public address that forwards to this host
    port_min: int = 0  # UDP port range for media; 0/0 = any free port
    port_max: int = 0
    stun_server: str = ""  # stun:HOST[:PORT]; none by default (no third party is contacted)
    turn_server: str = ""  # turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]
    turn_username: str = ""
    turn_password: str = ""
    monitor_viewers: int = 4  # WHEP monitors per hearing; 0 turns the monitor off


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
    s3: S3Settings = field(default_factory=S3Settings)
    webrtc: WebRtcSettings = field(default_factory=WebRtcSettings)
    # Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed; () = nobody's.
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @property
    def media_dir(self) -> Path | None:
        """The local media root when storage is a `file://` URL."""
        parsed = urlparse(self.storage_url)
        return Path(parsed.path) if parsed.scheme == "file" else None

    @property
    def s3_location(self) -> tuple[str, str] | None:
        """(bucket, key prefix ending in '/' or empty) when storage is an `s3://` URL."""
        parsed = urlparse(self.storage_url)
        if parsed.scheme != "s3":
            return None
        prefix = parsed.path.strip("/")
        return parsed.netloc, f"{prefix}/" if prefix else ""

    @property
    def spool_dir(self) -> Path:
        """Where S3 storage keeps objects not yet uploaded (a journal on local disk)."""
        return self.data_dir / "spool"


ENV = {
    "data": "COURTCAST_DATA",
    "http": "COURTCAST_HTTP",
    "rtmp": "COURTCAST_RTMP",
    "database": "COURTCAST_DATABASE_URL",
    "storage": "COURTCAST_STORAGE_URL",
    "s3_endpoint": "COURTCAST_S3_ENDPOINT",
    "public_media_url": "COURTCAST_PUBLIC_MEDIA_URL",
    "s3_addressing_style": "COURTCAST_S3_ADDRESSING_STYLE",
    "s3_signed_urls": "COURTCAST_S3_SIGNED_URLS",
    "s3_concurrency": "COURTCAST_S3_CONCURRENCY",
    "spool_limit": "COURTCAST_SPOOL_LIMIT",
    "webrtc_hosts": "COURTCAST_WEBRTC_HOSTS",
    "webrtc_public_ip": "COURTCAST_WEBRTC_PUBLIC_IP",
    "webrtc_ports": "COURTCAST_WEBRTC_PORTS",
    "stun_server": "COURTCAST_STUN_SERVER",
    "turn_server": "COURTCAST_TURN_SERVER",
    "turn_username": "COURTCAST_TURN_USERNAME",
    "turn_password": "COURTCAST_TURN_PASSWORD",
    "monitor_viewers": "COURTCAST_MONITOR_VIEWERS",
    "trusted_proxies": "COURTCAST_TRUSTED_PROXIES",
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
    s3_addressing_style: str | None = None,
    s3_signed_urls: str | None = None,
    s3_concurrency: str | None = None,
    spool_limit: str | None = None,
    webrtc: Mapping[str, str | None] | None = None,
    trusted_proxies: str | None = None,
) -> Config:
    """Resolve each setting from its option, then its environment variable, then the default."""
    data_dir = Path(_pick(data, "data") or "./courtcast-data").resolve()
    database_url = _pick(database, "database") or f"sqlite:///{data_dir / 'catalog.db'}"
    storage_url = _pick(storage, "storage") or f"file://{data_dir / 'media'}"
    parsed_storage = urlparse(storage_url)
    if parsed_storage.scheme not in ("file", "s3") or (
        parsed_storage.scheme == "s3" and not parsed_storage.netloc
    ):
        raise ConfigError(
            f"--storage must be file://PATH or s3://BUCKET/PREFIX, got {storage_url!r}"
        )
    media_url = _pick(public_media_url, "public_media_url")
    if media_url and urlparse(media_url).scheme not in ("http", "https"):
        raise ConfigError(f"--public-media-url must be an http(s) URL, got {media_url!r}")
    s3 = _s3_settings(s3_addressing_style, s3_signed_urls, s3_concurrency, spool_limit)
    if s3.signed_url_seconds and (parsed_storage.scheme != "s3" or media_url):
        raise ConfigError("--s3-signed-urls needs s3:// storage and no --public-media-url "
                          "(viewers then fetch presigned URLs from the bucket itself)")
    http_address = HostPort.parse(_pick(http, "http") or "127.0.0.1:8080", "--http")
    return Config(
        data_dir=data_dir,
        http=http_address,
        rtmp=HostPort.parse(_pick(rtmp, "rtmp") or "127.0.0.1:1935", "--rtmp"),
        database_url=database_url,
        storage_url=storage_url,
        s3_endpoint=_pick(s3_endpoint, "s3_endpoint"),
        public_media_url=media_url.rstrip("/") if media_url else None,
        s3=s3,
        webrtc=_webrtc_settings(webrtc or {}, http_address.host),
        trusted_proxies=parse_networks(_pick(trusted_proxies, "trusted_proxies") or "",
                                       "--trusted-proxies"),
    )


def parse_networks(text: str, option: str) -> tuple[IPNetwork, ...]:
    """'10.0.0.1, 192.168.0.0/16, fd00::/8' -> networks (an address is a /32 or /128).

    Host bits set ('10.0.0.1/8') are refused: which of the two the operator meant is unclear."""
    networks = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            raise ConfigError(
                f"{option} must be IP addresses or networks (ADDR or ADDR/BITS), got {entry!r}"
            ) from None
    return tuple(networks)


def _s3_settings(
    addressing_style: str | None,
    signed_urls: str | None,
    concurrency: str | None,
    spool_limit: str | None,
) -> S3Settings:
    default = S3Settings()
    style = (_pick(addressing_style, "s3_addressing_style") or default.addressing_style).lower()
    if style not in ADDRESSING_STYLES:
        raise ConfigError(f"--s3-addressing-style must be path, virtual or auto, got {style!r}")
    signed = _pick(signed_urls, "s3_signed_urls")
    workers = _pick(concurrency, "s3_concurrency")
    limit = _pick(spool_limit, "spool_limit")
    settings = S3Settings(
        addressing_style=style,
        signed_url_seconds=(
            _positive_int(signed, "--s3-signed-urls", MAX_PRESIGN_SECONDS) if signed else 0
        ),
        concurrency=_positive_int(workers, "--s3-concurrency", 256) if workers else 8,
        spool_limit=parse_size(limit, "--spool-limit") if limit else default.spool_limit,
    )
    if settings.concurrency < 1:
        raise ConfigError("--s3-concurrency must be at least 1")
    return settings


def _default_ice_hosts(http_host: str) -> tuple[str, ...]:
    """ICE on the portal's address when it names one (127.0.0.1: a one-machine setup)."""
    try:
        address = ipaddress.ip_address(http_host)
    except ValueError:
        return ()
    return () if address.is_unspecified else (str(address),)


def _ip(text: str, option: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ConfigError(f"{option} must be IP addresses, got {text!r}") from None


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit()) or \
            not 1024 <= int(low) <= int(high) <= 65535:
        raise ConfigError(f"--webrtc-ports must be MIN-MAX within 1024-65535, got {text!r}")
    return int(low), int(high)


def _webrtc_settings(options: Mapping[str, str | None], http_host: str) -> WebRtcSettings:
    def pick(name: str) -> str:
        return _pick(options.get(name), name) or ""

    hosts = pick("webrtc_hosts")
    ports = pick("webrtc_ports")
    stun, turn = pick("stun_server"), pick("turn_server")
    if stun and not stun.startswith(("stun:", "stuns:")):
        raise ConfigError(f"--stun-server must be stun:HOST[:PORT], got {stun!r}")
    if turn and not turn.startswith(("turn:", "turns:")):
        raise ConfigError(f"--turn-server must be turn:HOST[:PORT] or turns:..., got {turn!r}")
    if turn and not (pick("turn_username") and pick("turn_password")):
        raise ConfigError("--turn-server needs --turn-username and --turn-password")
    viewers = pick("monitor_viewers")
    public_ip = pick("webrtc_public_ip")
    return WebRtcSettings(
        hosts=tuple(_ip(h, "--webrtc-hosts") for h in hosts.split(",") if h.strip())
        if hosts else _default_ice_hosts(http_host),
        public_ip=_ip(public_ip, "--webrtc-public-ip") if public_ip else "",
        port_min=_port_range(ports)[0] if ports else 0,
        port_max=_port_range(ports)[1] if ports else 0,
        stun_server=stun,
        turn_server=turn,
        turn_username=pick("turn_username"),
        turn_password=pick("turn_password"),
        monitor_viewers=_positive_int(viewers, "--monitor-viewers", 100) if viewers else 4,
    )
