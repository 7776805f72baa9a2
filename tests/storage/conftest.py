"""S3 storage under test talks to moto's server, a real HTTP S3 endpoint on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from courtcast.storage.s3 import S3Storage
from courtcast.storage.s3client import S3Client, S3Location
from courtcast.storage.uploader import Backoff
from tests.storage.s3server import S3Server

FAST_BACKOFF = Backoff(base=0.05, cap=0.5)  # tests wait for recovery, not for politeness

MakeStorage = Callable[..., S3Storage]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One endpoint for the session; tests that stop it override this with their own."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture
async def make_storage(
    s3: S3Server, bucket: str, tmp_path: Path
) -> AsyncIterator[MakeStorage]:
    """S3Storage instances on the test bucket (prefix `cc/`), closed at the end."""
    made: list[S3Storage] = []

    def make(*, spool: Path | None = None, **options: Any) -> S3Storage:
        location = S3Location(bucket, "cc/", s3.endpoint, options.pop("addressing_style", "path"))
        client = S3Client(location, connect_timeout=1, read_timeout=5)
        options.setdefault("backoff", FAST_BACKOFF)
        options.setdefault("close_grace", 5.0)
        options.setdefault("delete_wait", 1.0)
        storage = S3Storage(client, spool or tmp_path / "spool", **options)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        await storage.close()


@pytest.fixture
async def storage(make_storage: MakeStorage) -> S3Storage:
    instance = make_storage()
    await instance.start()
    return instance
