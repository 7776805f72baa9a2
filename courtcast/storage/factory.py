"""Build the storage backend a `--storage` URL names."""

from __future__ import annotations

import re

from courtcast.config import Config, ConfigError
from courtcast.storage.base import Storage
from courtcast.storage.local import LocalStorage


def open_storage(config: Config) -> Storage:
    media_dir = config.media_dir
    if media_dir is not None:
        return LocalStorage(media_dir, config.public_media_url or "/media")
    location = config.s3_location
    if location is not None:
        return _open_s3(config, *location)
    raise ConfigError(
        f"storage {config.storage_url!r} is not supported: use file://PATH or s3://BUCKET/PREFIX"
    )


def _open_s3(config: Config, bucket: str, prefix: str) -> Storage:
    # Imported here: boto3 takes a while to import and local storage does not need it.
    from courtcast.storage.s3 import S3Storage
    from courtcast.storage.s3client import S3Client, S3Location

    settings = config.s3
    location = S3Location(bucket, prefix, config.s3_endpoint, settings.addressing_style)
    client = S3Client(location, connections=settings.concurrency + 4)
    # One spool per bucket and prefix, so pointing courtcast at another bucket never sends
    # objects spooled for the previous one there.
    spool = config.spool_dir / re.sub(r"[^A-Za-z0-9._-]+", "_", f"{bucket}/{prefix}").strip("_")
    return S3Storage(
        client,
        spool,
        public_media_url=config.public_media_url,
        signed_url_seconds=settings.signed_url_seconds,
        concurrency=settings.concurrency,
        spool_limit=settings.spool_limit,
    )
