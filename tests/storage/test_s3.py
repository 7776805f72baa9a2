"""The S3 backend against moto's server: objects, metadata, copies, deletes, public URLs."""

from __future__ import annotations

import aiohttp
import pytest

from courtcast.storage.base import (
    FINAL_PLAYLIST,
    IMMUTABLE,
    LIVE_PLAYLIST,
    PRIVATE,
    ObjectMeta,
    ObjectNotFound,
    StorageError,
)
from courtcast.storage.s3 import S3Storage
from courtcast.storage.s3client import S3Client, S3Location
from tests.storage.conftest import MakeStorage
from tests.storage.s3server import S3Server, use_dummy_credentials

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
INIT = ObjectMeta("video/mp4", IMMUTABLE)
LIVE = ObjectMeta(PLAYLIST_TYPE, LIVE_PLAYLIST)
FINAL = ObjectMeta(PLAYLIST_TYPE, FINAL_PLAYLIST)
RECORD = ObjectMeta("video/iso.segment", PRIVATE)


async def http_get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


async def test_objects_carry_their_content_type_and_cache_policy(
    storage: S3Storage, s3: S3Server, bucket: str
) -> None:
    await storage.put("public/1/source/init-0.mp4", b"init", INIT)
    await storage.put("public/1/source/000000.m4s", b"segment", SEGMENT)
    await storage.put("public/1/source/index.m3u8", b"#EXTM3U\n", LIVE)
    await storage.put("public/1/master.m3u8", b"#EXTM3U\n", FINAL)
    await storage.drained(timeout=20)
    client = s3.client()
    expected = {
        "public/1/source/init-0.mp4": ("video/mp4", IMMUTABLE),
        "public/1/source/000000.m4s": ("video/iso.segment", IMMUTABLE),
        "public/1/source/index.m3u8": (PLAYLIST_TYPE, LIVE_PLAYLIST),
        "public/1/master.m3u8": (PLAYLIST_TYPE, FINAL_PLAYLIST),
    }
    for key, (content_type, cache) in expected.items():
        head = client.head_object(Bucket=bucket, Key=f"cc/{key}")
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache), key
    assert await storage.get("public/1/source/000000.m4s") == b"segment"
    assert await storage.list_keys("public/1/") == sorted(expected)
    assert s3.keys(bucket) == sorted(f"cc/{key}" for key in expected)
    assert list((storage.uploader.spool.ops_dir).iterdir()) == [], "spool cleaned once stored"


async def test_copy_is_server_side_with_the_new_metadata(
    storage: S3Storage, s3: S3Server, bucket: str
) -> None:
    await storage.put("record/1-x/source/000000.m4s", b"segment", RECORD)
    await storage.copy("record/1-x/source/000000.m4s", "public/1/source/000000.m4s", SEGMENT)
    await storage.drained(timeout=20)
    head = s3.client().head_object(Bucket=bucket, Key="cc/public/1/source/000000.m4s")
    assert head["CacheControl"] == IMMUTABLE
    assert await storage.get("public/1/source/000000.m4s") == b"segment"


async def test_missing_objects(storage: S3Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get("public/9/master.m3u8")
    with pytest.raises(StorageError):
        await storage.put("../escape", b"x", SEGMENT)


async def test_delete_prefix_removes_only_that_prefix(
    storage: S3Storage, s3: S3Server, bucket: str
) -> None:
    for key in ("public/1/source/000000.m4s", "public/1/master.m3u8", "public/12/master.m3u8",
                "record/1-x/source/000000.m4s"):
        await storage.put(key, b"x", SEGMENT)
    await storage.drained(timeout=20)
    assert await storage.delete_prefix("public/1/") == 2
    assert s3.keys(bucket) == ["cc/public/12/master.m3u8", "cc/record/1-x/source/000000.m4s"]


async def test_public_urls(make_storage: MakeStorage, s3: S3Server, bucket: str) -> None:
    cdn = make_storage(public_media_url="https://cdn.example/media/")
    assert cdn.public_url("public/1/master.m3u8") == "https://cdn.example/media/public/1/master.m3u8"
    path_style = make_storage()
    url = path_style.public_url("public/1/master.m3u8")
    assert url == f"{s3.endpoint}/{bucket}/cc/public/1/master.m3u8"
    await path_style.put("public/1/master.m3u8", b"#EXTM3U\n", LIVE)
    await path_style.drained(timeout=20)
    assert (await http_get(url))[0] == 403, "the bucket is private until a policy opens it"


def test_virtual_host_and_aws_urls() -> None:
    use_dummy_credentials()
    minio = S3Client(S3Location("media", "cc/", "https://s3.court.example", "virtual"))
    assert minio.object_url("public/1/a b.m4s") == (
        "https://media.s3.court.example/cc/public/1/a%20b.m4s")
    ceph = S3Client(S3Location("media", "", "https://rgw.court.example:7480/", "auto"))
    assert ceph.object_url("public/1/x.m4s") == "https://rgw.court.example:7480/media/public/1/x.m4s"
    aws = S3Client(S3Location("media", "cc/"))
    region = aws._region()
    assert aws.object_url("public/1/x.m4s") == (
        f"https://media.s3.{region}.amazonaws.com/cc/public/1/x.m4s")
