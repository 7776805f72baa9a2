from __future__ import annotations

from courtcast.storage.base import IMMUTABLE, LIVE_PLAYLIST, ObjectMeta
from courtcast.storage.scheduler import Op, Operation, Scheduler, lane_of

SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", LIVE_PLAYLIST)


class Ops:
    """Numbers operations in the order a caller issues them."""

    def __init__(self) -> None:
        self.scheduler = Scheduler()
        self.seq = 0

    def add(self, op: Op, key: str, source: str = "", *, held: bool = False) -> list[int]:
        meta = PLAYLIST if key.endswith(".m3u8") else SEGMENT
        operation = Operation(self.seq, op, key, None if op is Op.DELETE else meta, source)
        self.seq += 1
        return [old.seq for old in self.scheduler.add(operation, held=held)]

    def put(self, key: str, *, held: bool = False) -> list[int]:
        return self.add(Op.PUT, key, held=held)

    def runnable(self) -> list[int]:
        """Take everything that may run now (marks it running)."""
        taken: list[int] = []
        while (op := self.scheduler.take()) is not None:
            taken.append(op.seq)
        return taken


def test_lanes_are_a_hearings_view() -> None:
    assert lane_of("public/42/source/000001.m4s") == "public/42"
    assert lane_of("record/42-abc/source/index.m3u8") == "record/42-abc"


def test_segments_run_together_and_a_playlist_waits_for_them() -> None:
    ops = Ops()
    for n in range(3):
        ops.put(f"public/1/source/{n:06d}.m4s")
    ops.put("public/1/source/index.m3u8")  # 3
    ops.put("public/1/source/000003.m4s")  # 4: a segment does not wait for a playlist
    assert ops.runnable() == [0, 1, 2, 4]
    ops.scheduler.done(0)
    ops.scheduler.done(1)
    assert ops.runnable() == []
    ops.scheduler.done(2)
    assert ops.runnable() == [3]


def test_lanes_are_independent() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s")
    ops.put("public/2/source/index.m3u8")
    ops.put("record/1-x/source/index.m3u8")
    assert ops.runnable() == [0, 1, 2]


def test_a_playlist_rewritten_while_waiting_is_uploaded_once_newest_last() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s")  # 0
    ops.put("public/1/source/index.m3u8")  # 1
    ops.put("public/1/master.m3u8")  # 2: waits for 0 and 1
    ops.put("public/1/source/000001.m4s")  # 3
    assert ops.put("public/1/source/index.m3u8") == [1]  # 4 supersedes 1
    assert ops.runnable() == [0, 3]
    ops.scheduler.done(0)
    assert ops.runnable() == [2]  # the master no longer waits for the superseded version
    ops.scheduler.done(3)
    ops.scheduler.done(2)
    assert ops.runnable() == [4]


def test_a_playlist_already_uploading_is_not_superseded() -> None:
    ops = Ops()
    ops.put("public/1/source/index.m3u8")
    assert ops.runnable() == [0]
    assert ops.put("public/1/source/index.m3u8") == []
    assert ops.runnable() == []  # the newer version lands after the one in flight
    ops.scheduler.done(0)
    assert ops.runnable() == [1]


def test_a_copy_waits_for_its_source_and_a_copied_playlist_is_a_barrier() -> None:
    ops = Ops()
    ops.put("record/1-x/source/000000.m4s")  # 0
    ops.put("public/1/source/000009.m4s")  # 1
    ops.add(Op.COPY, "public/1/source/000000.m4s", "record/1-x/source/000000.m4s")  # 2
    ops.put("record/1-x/master.m3u8")  # 3
    ops.add(Op.COPY, "public/1/master.m3u8", "record/1-x/master.m3u8")  # 4
    assert ops.runnable() == [0, 1]
    ops.scheduler.done(0)
    assert ops.runnable() == [2, 3]
    ops.scheduler.done(3)
    ops.scheduler.done(2)
    assert ops.runnable() == []  # still waits for segment 1 of its lane
    ops.scheduler.done(1)
    assert ops.runnable() == [4]


def test_a_playlist_with_a_pending_copy_is_not_superseded() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s")  # 0: keeps the playlist waiting
    ops.put("public/1/source/index.m3u8")  # 1
    ops.add(Op.COPY, "public/1/source/copy.m3u8", "public/1/source/index.m3u8")  # 2
    assert ops.put("public/1/source/index.m3u8") == []


def test_delete_drops_what_waits_and_follows_what_runs() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s")  # 0
    ops.put("public/1/source/000001.m4s")  # 1
    ops.put("record/1-x/source/000000.m4s")  # 2
    assert ops.scheduler.take() is not None  # 0 is uploading
    dropped = ops.scheduler.drop_prefix("public/1/")
    assert [op.seq for op in dropped] == [1]
    ops.add(Op.DELETE, "public/1/")  # 3 waits for 0, in flight
    ops.put("public/1/source/000002.m4s")  # 4: written after the delete, so after it
    assert ops.scheduler.covering_delete("public/1/source/000001.m4s")
    assert not ops.scheduler.covering_delete("public/1/source/000002.m4s")
    assert ops.runnable() == [2]
    ops.scheduler.done(0)
    assert ops.runnable() == [3]
    ops.scheduler.done(3)
    assert ops.runnable() == [4]


def test_held_operations_wait_to_be_durable() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s", held=True)
    ops.put("public/1/source/index.m3u8")
    assert ops.runnable() == []
    ops.scheduler.release(0)
    assert ops.runnable() == [0]


def test_a_failed_operation_runs_again_and_keeps_its_dependents_waiting() -> None:
    ops = Ops()
    ops.put("public/1/source/000000.m4s")
    ops.put("public/1/source/index.m3u8")
    assert ops.runnable() == [0]
    ops.scheduler.rest(0)
    assert ops.runnable() == []
    ops.scheduler.retry(0)
    assert ops.runnable() == [0]
    ops.scheduler.done(0)
    assert ops.runnable() == [1]
    ops.scheduler.done(1)
    assert len(ops.scheduler) == 0
