"""The spool's journal on disk: what a restart finds, and what a crash may leave behind."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from courtcast.storage.base import IMMUTABLE, ObjectMeta, StorageError
from courtcast.storage.scheduler import Op, Operation
from courtcast.storage.spool import Spool

META = ObjectMeta("video/iso.segment", IMMUTABLE)


def test_operations_come_back_in_order_with_their_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write(Operation(7, Op.PUT, "public/1/source/000001.m4s", META, spooled_at=5.0),
                b"\x00segment\n")
    spool.write(Operation(3, Op.PUT, "public/1/source/000000.m4s", META), b"")
    spool.write(Operation(9, Op.COPY, "public/1/a.m4s", META, source="record/1-x/a.m4s"))
    spool.write(Operation(11, Op.DELETE, "public/2/"))
    again = Spool(tmp_path).load()
    assert [op.seq for op in again] == [3, 7, 9, 11]
    assert again[1] == Operation(7, Op.PUT, "public/1/source/000001.m4s", META, size=9,
                                 spooled_at=5.0)
    assert again[2].source == "record/1-x/a.m4s" and again[3].meta is None
    assert spool.read_body(7) == b"\x00segment\n"
    spool.remove(7)
    with pytest.raises(FileNotFoundError):
        spool.read_body(7)


def test_a_crash_mid_write_leaves_nothing_half_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    spool.write(Operation(1, Op.PUT, "public/1/source/000000.m4s", META), b"whole")
    spool.write(Operation(2, Op.PUT, "public/1/source/000001.m4s", META), b"torn apart")
    (spool.ops_dir / ".tmp-interrupted").write_bytes(b'{"seq": 3')  # never renamed in
    torn = spool.path(2)
    torn.write_bytes(torn.read_bytes()[:-4])  # e.g. a disk that lied about fsync
    with caplog.at_level(logging.ERROR):
        ops = Spool(tmp_path).load()
    assert [op.seq for op in ops] == [1]
    assert not (spool.ops_dir / ".tmp-interrupted").exists()
    assert (tmp_path / "damaged" / torn.name).exists(), "set aside, never silently dropped"
    assert "damaged" in caplog.text


def test_a_disk_that_refuses_is_a_storage_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.ops_dir.rmdir()
    spool.ops_dir.write_bytes(b"")  # no directory to write into, whoever runs the test
    with pytest.raises(StorageError, match="cannot spool"):
        spool.write(Operation(1, Op.PUT, "public/1/a.m4s", META), b"x")
