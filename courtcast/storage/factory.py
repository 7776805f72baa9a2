"""Build the storage backend a `--storage` URL names."""

from __future__ import annotations

from courtcast.config import Config, ConfigError
from courtcast.storage.base import Storage
from courtcast.storage.local import LocalStorage


def open_storage(config: Config) -> Storage:
    media_dir = config.media_dir
    if media_dir is not None:
        return LocalStorage(media_dir, config.public_media_url or "/media")
    raise ConfigError(
        f"storage {config.storage_url!r} is not supported yet: use file://PATH"
    )
