"""From command-line options to a storage backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from courtcast.cli import build_parser, load_config
from courtcast.config import ConfigError, S3Settings, load
from courtcast.storage.factory import open_storage
from courtcast.storage.local import LocalStorage
from courtcast.storage.s3 import S3Storage
from tests.storage.s3server import use_dummy_credentials

S3_ENV = ("COURTCAST_STORAGE_URL", "COURTCAST_S3_ENDPOINT", "COURTCAST_PUBLIC_MEDIA_URL",
          "COURTCAST_S3_ADDRESSING_STYLE", "COURTCAST_S3_SIGNED_URLS",
          "COURTCAST_S3_CONCURRENCY", "COURTCAST_SPOOL_LIMIT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in S3_ENV:
        monkeypatch.delenv(name, raising=False)
    use_dummy_credentials()


async def test_serve_options_build_s3_storage(tmp_path: Path) -> None:
    args = build_parser().parse_args([
        "serve", "--data", str(tmp_path), "--storage", "s3://media/court/cast/",
        "--s3-endpoint", "http://127.0.0.1:9000", "--s3-addressing-style", "path",
        "--s3-concurrency", "3", "--spool-limit", "2G",
        "--public-media-url", "https://cdn.example/cast/"])
    config = load_config(args)
    assert config.s3_location == ("media", "court/cast/")
    assert config.s3 == S3Settings(addressing_style="path", concurrency=3,
                                   spool_limit=2 * 1024**3)
    storage = open_storage(config)
    assert isinstance(storage, S3Storage)
    try:
        assert storage.public_url("public/1/master.m3u8") == (
            "https://cdn.example/cast/public/1/master.m3u8")
        assert storage.uploader.spool.root == tmp_path / "spool" / "media_court_cast"
    finally:
        await storage.close()


async def test_environment_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTCAST_STORAGE_URL", "s3://media")
    monkeypatch.setenv("COURTCAST_S3_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("COURTCAST_S3_SIGNED_URLS", "3600")
    config = load(data=str(tmp_path))
    assert config.s3_location == ("media", "")
    assert config.s3.signed_url_seconds == 3600 and config.s3.concurrency == 8
    storage = open_storage(config)
    try:
        assert storage.portal_serves_playlists
        assert storage.public_url("public/1/master.m3u8") == "/media/public/1/master.m3u8"
        assert "X-Amz-Expires=3600" in storage.public_url("public/1/source/000000.m4s")
    finally:
        await storage.close()
    monkeypatch.delenv("COURTCAST_STORAGE_URL")
    monkeypatch.delenv("COURTCAST_S3_SIGNED_URLS")
    assert isinstance(open_storage(load(data=str(tmp_path))), LocalStorage)


@pytest.mark.parametrize(("options", "complaint"), [
    ({"storage": "s3://"}, "--storage"),
    ({"storage": "s3://media", "s3_addressing_style": "dns"}, "--s3-addressing-style"),
    ({"storage": "s3://media", "s3_signed_urls": "forever"}, "--s3-signed-urls"),
    ({"storage": "s3://media", "s3_signed_urls": "999999999"}, "--s3-signed-urls"),
    ({"s3_signed_urls": "60"}, "--s3-signed-urls needs s3://"),
    ({"storage": "s3://media", "s3_signed_urls": "60",
      "public_media_url": "https://cdn.example"}, "no --public-media-url"),
    ({"storage": "s3://media", "s3_concurrency": "0"}, "--s3-concurrency"),
    ({"storage": "s3://media", "spool_limit": "lots"}, "--spool-limit"),
])
def test_malformed_s3_settings_are_named(
    tmp_path: Path, options: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load(data=str(tmp_path), **options)
