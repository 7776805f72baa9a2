"""Storage outages against moto's server, stopped and started again on the same port: the
pipeline's writes return at once, nothing is lost, the spool drains in order afterwards."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from courtcast.storage.base import IMMUTABLE, LIVE_PLAYLIST, ObjectMeta, ObjectNotFound
from courtcast.storage.s3 import S3Storage
from courtcast.storage.uploader import Backoff
from tests.storage.conftest import MakeStorage
from tests.storage.s3server import S3Server

SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", LIVE_PLAYLIST)


@pytest.fixture
def s3() -> Iterator[S3Server]:
    """An endpoint of this test's own, since the test stops and starts it."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def segment_key(hearing: int, n: int) -> str:
    return f"public/{hearing}/source/{n:06d}.m4s"


async def write_hearing(storage: S3Storage, hearing: int, segments: range) -> None:
    """What the pipeline does: each segment, then the playlist naming it."""
    for n in segments:
        await storage.put(segment_key(hearing, n), f"segment {hearing}/{n}".encode(), SEGMENT)
        listed = "".join(f"{m:06d}.m4s\n" for m in range(n + 1))
        await storage.put(f"public/{hearing}/source/index.m3u8", listed.encode(), PLAYLIST)


async def test_an_outage_spools_and_storage_catches_up(
    make_storage: MakeStorage, s3: S3Server, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = make_storage()
    await write_hearing(storage, 1, range(2))
    await storage.drained(timeout=20)
    failures_before = metric("courtcast_storage_upload_failures_total")

    s3.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "courtcast.storage"):
        await asyncio.gather(write_hearing(storage, 1, range(2, 8)),
                             write_hearing(storage, 2, range(5)))
        await asyncio.sleep(1.0)  # let the uploader fail and back off a few times
    assert time.monotonic() - started < 10, "writes must not wait for storage"
    assert storage.uploader.spooled_operations > 0
    assert metric("courtcast_spool_objects") == storage.uploader.spooled_operations
    assert metric("courtcast_spool_bytes") > 0
    assert metric("courtcast_storage_upload_failures_total") > failures_before
    assert "spooling on local disk" in caplog.text
    # Readers see what waits in the spool.
    assert await storage.get(segment_key(1, 7)) == b"segment 1/7"
    assert (await storage.get("public/2/source/index.m3u8")).count(b"\n") == 5

    s3.start()
    await storage.drained(timeout=30)
    keys = s3.keys(bucket)
    written = [segment_key(1, n) for n in range(8)] + [segment_key(2, n) for n in range(5)]
    assert [k for k in keys if k.endswith(".m4s")] == sorted(f"cc/{k}" for k in written)
    body = s3.client().get_object(Bucket=bucket, Key="cc/public/1/source/index.m3u8")["Body"]
    assert body.read().count(b"\n") == 8, "the newest playlist version won"
    assert list(storage.uploader.spool.ops_dir.iterdir()) == []
    assert metric("courtcast_spool_bytes") == 0


async def test_a_restart_resumes_from_the_journal(
    make_storage: MakeStorage, s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    s3.stop()
    first = make_storage(spool=tmp_path / "spool", close_grace=0.2)
    await write_hearing(first, 3, range(4))
    await first.copy(segment_key(3, 0), "record/3-x/source/000000.m4s", SEGMENT)
    await first.close()  # as at SIGTERM with storage down: everything stays spooled
    assert len(list((tmp_path / "spool" / "ops").iterdir())) == 6  # 4 + 1 playlist + 1 copy

    s3.start()
    second = make_storage(spool=tmp_path / "spool")
    await second.start()
    await second.drained(timeout=30)
    assert s3.keys(bucket) == sorted(
        [f"cc/{segment_key(3, n)}" for n in range(4)]
        + ["cc/public/3/source/index.m3u8", "cc/record/3-x/source/000000.m4s"])
    assert await second.get("record/3-x/source/000000.m4s") == b"segment 3/0"
    # A new write after the restart is numbered after the journal's.
    await second.put(segment_key(3, 4), b"more", SEGMENT)
    await second.drained(timeout=20)
    assert await second.get(segment_key(3, 4)) == b"more"


async def test_over_the_spool_limit_the_alarm_rings_and_nothing_is_dropped(
    make_storage: MakeStorage, s3: S3Server, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = make_storage(spool_limit=1000)
    await storage.start()
    s3.stop()
    with caplog.at_level(logging.ERROR, "courtcast.storage"):
        for n in range(3):
            await storage.put(segment_key(4, n), bytes(600), SEGMENT)
    assert storage.backlog_full
    assert metric("courtcast_spool_over_limit") == 1
    assert "media spool over its limit" in caplog.text
    assert storage.uploader.spooled_bytes == 1800, "every write was kept"

    s3.start()
    await storage.drained(timeout=30)
    assert not storage.backlog_full
    assert metric("courtcast_spool_over_limit") == 0
    assert len(s3.keys(bucket, "cc/public/4/")) == 3


async def test_deleting_a_prefix_includes_what_is_still_spooled(
    make_storage: MakeStorage, s3: S3Server, bucket: str
) -> None:
    storage = make_storage()
    await storage.put(segment_key(5, 0), b"stored", SEGMENT)
    await storage.drained(timeout=20)
    s3.stop()
    await storage.put(segment_key(5, 1), b"spooled", SEGMENT)
    await storage.put("public/5/source/index.m3u8", b"spooled", PLAYLIST)
    await storage.put("record/5-x/source/000001.m4s", b"kept", SEGMENT)
    removed = await storage.delete_prefix("public/5/")
    assert removed >= 1, "what was spooled is gone at once; the stored one once S3 is back"
    with pytest.raises(ObjectNotFound):
        await storage.get(segment_key(5, 1))
    with pytest.raises(ObjectNotFound):
        await storage.get(segment_key(5, 0))
    await storage.put(segment_key(5, 9), b"restored later", SEGMENT)  # lands after the delete

    s3.start()
    await storage.drained(timeout=30)
    assert s3.keys(bucket) == ["cc/public/5/source/000009.m4s", "cc/record/5-x/source/000001.m4s"]


async def test_a_copy_waits_for_its_source_to_be_stored(
    make_storage: MakeStorage, s3: S3Server, bucket: str
) -> None:
    storage = make_storage()
    await storage.start()
    s3.stop()
    await storage.put("record/6-x/source/000000.m4s", b"evidence", SEGMENT)
    await storage.copy("record/6-x/source/000000.m4s", segment_key(6, 0), SEGMENT)
    assert await storage.get(segment_key(6, 0)) == b"evidence"
    s3.start()
    await storage.drained(timeout=30)
    assert s3.client().get_object(
        Bucket=bucket, Key=f"cc/{segment_key(6, 0)}")["Body"].read() == b"evidence"


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (12, 8.0)]:
        delays = [backoff.delay(failures) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, delays)
