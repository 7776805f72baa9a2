import ipaddress
from pathlib import Path
from typing import Any

import pytest

from courtcast.cli import build_parser, load_config
from courtcast.config import ConfigError, HostPort, load


def test_defaults_follow_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("COURTCAST_DATA", "COURTCAST_HTTP", "COURTCAST_RTMP", "COURTCAST_DATABASE_URL",
                 "COURTCAST_STORAGE_URL", "COURTCAST_S3_ENDPOINT", "COURTCAST_PUBLIC_MEDIA_URL"):
        monkeypatch.delenv(name, raising=False)
    config = load(data=str(tmp_path))
    assert config.http == HostPort("127.0.0.1", 8080)
    assert config.rtmp == HostPort("127.0.0.1", 1935)
    assert config.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert config.media_dir == tmp_path / "media"
    assert config.public_media_url is None


def test_options_win_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTCAST_HTTP", "0.0.0.0:9000")
    monkeypatch.setenv("COURTCAST_RTMP", "0.0.0.0:1936")
    monkeypatch.setenv("COURTCAST_PUBLIC_MEDIA_URL", "https://cdn.example/media/")
    config = load(data=str(tmp_path), http="127.0.0.1:8081")
    assert config.http == HostPort("127.0.0.1", 8081)
    assert config.rtmp == HostPort("0.0.0.0", 1936)
    assert config.public_media_url == "https://cdn.example/media"


@pytest.mark.parametrize(("option", "value"), [
    ("http", "localhost"), ("http", "host:99999"), ("rtmp", ":1935"),
    ("storage", "ftp://x"), ("public_media_url", "cdn.example"),
])
def test_malformed_settings_are_named(tmp_path: Path, option: str, value: str) -> None:
    with pytest.raises(ConfigError, match="--"):
        settings: dict[str, Any] = {option: value}
        load(data=str(tmp_path), **settings)


def test_ipv6_host_port() -> None:
    assert HostPort.parse("[::1]:8080", "--http") == HostPort("::1", 8080)
    assert str(HostPort("::1", 8080)) == "[::1]:8080"


def test_trusted_proxies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURTCAST_TRUSTED_PROXIES", raising=False)
    assert load(data=str(tmp_path)).trusted_proxies == ()
    config = load(data=str(tmp_path), trusted_proxies=" 127.0.0.1, 10.0.0.0/8,,fd00::/8 ")
    assert config.trusted_proxies == (ipaddress.ip_network("127.0.0.1/32"),
                                      ipaddress.ip_network("10.0.0.0/8"),
                                      ipaddress.ip_network("fd00::/8"))


def test_trusted_proxies_option_over_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURTCAST_TRUSTED_PROXIES", "192.168.0.0/16")
    assert load(data=str(tmp_path)).trusted_proxies == (ipaddress.ip_network("192.168.0.0/16"),)
    config = load(data=str(tmp_path), trusted_proxies="::1")
    assert config.trusted_proxies == (ipaddress.ip_network("::1/128"),)


def test_trusted_proxies_on_the_command_line(tmp_path: Path) -> None:
    for command in ("serve", "demo"):
        args = build_parser().parse_args(
            [command, "--data", str(tmp_path), "--trusted-proxies", "10.1.2.3"])
        assert load_config(args).trusted_proxies == (ipaddress.ip_network("10.1.2.3/32"),)


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0-8",
                                   "127.0.0.1;10.0.0.1"])
def test_malformed_trusted_proxies_are_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="--trusted-proxies") as raised:
        load(data=str(tmp_path), trusted_proxies=f"127.0.0.1,{value}")
    assert repr(value) in str(raised.value)
