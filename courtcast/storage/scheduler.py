"""Which spooled storage operation may run when. Pure bookkeeping: no I/O, no clock.

Operations are numbered (`seq`) in the order callers issued them. A *lane* is a key's first two
parts (`public/42`, `record/42-abc`): one hearing's view. The rules, so that a viewer never reads
a playlist naming an object that is not there yet:

- a playlist (`.m3u8`, put or copied) is a barrier: it waits for every earlier operation of its
  lane; media segments of a lane run concurrently with each other; lanes are independent;
- a copy also waits for the operation writing its source;
- a write waits for an earlier write of the same key, unless that one is a playlist that has not
  started yet: then the newer version supersedes it (a playlist rewritten while storage was
  down is uploaded once, newest version, still after everything it names);
- a delete of a prefix waits for what runs under it, and later writes under it wait for it.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from courtcast.storage.base import ObjectMeta


class Op(StrEnum):
    PUT = "put"
    COPY = "copy"
    DELETE = "delete"  # `key` is the prefix


@dataclass(frozen=True, slots=True)
class Operation:
    seq: int
    op: Op
    key: str
    meta: ObjectMeta | None = None
    source: str = ""  # COPY only
    size: int = 0  # spooled body bytes (PUT only)
    spooled_at: float = 0.0  # wall clock, so the upload lag survives a restart


def lane_of(key: str) -> str:
    return "/".join(key.split("/")[:2])


def is_playlist(key: str) -> bool:
    return key.endswith(".m3u8")


class Scheduler:
    def __init__(self) -> None:
        self._ops: dict[int, Operation] = {}  # not finished: waiting, held, ready or running
        self._deps: dict[int, set[int]] = {}
        self._dependents: defaultdict[int, set[int]] = defaultdict(set)
        self._lanes: defaultdict[str, set[int]] = defaultdict(set)
        self._latest: dict[str, int] = {}  # key -> newest unfinished seq writing it
        self._deletes: dict[int, str] = {}  # unfinished delete seq -> prefix
        self._held: set[int] = set()  # added but not durable yet
        self._running: set[int] = set()
        self._resting: set[int] = set()  # failed, sitting out a backoff before running again
        self._ready: list[int] = []  # heap; entries no longer ready are skipped lazily

    def __len__(self) -> int:
        return len(self._ops)

    @property
    def running(self) -> int:
        return len(self._running)

    def has_ready(self) -> bool:
        while self._ready and not self._is_ready(self._ready[0]):
            heapq.heappop(self._ready)
        return bool(self._ready)

    def latest(self, key: str) -> Operation | None:
        """The newest unfinished operation writing `key`."""
        seq = self._latest.get(key)
        return self._ops[seq] if seq is not None else None

    def deleted_later(self, seq: int) -> bool:
        """Whether a newer, unfinished delete covers what operation `seq` writes."""
        key = self._ops[seq].key
        return any(d > seq and key.startswith(p) for d, p in self._deletes.items())

    def keys_under(self, prefix: str) -> set[str]:
        """Keys with an unfinished write under `prefix` (they exist once it is done)."""
        return {key for key in self._latest if key.startswith(prefix)}

    def covering_delete(self, key: str) -> bool:
        """Whether an unfinished delete (newer than any write of `key`) covers `key`."""
        newest_write = self._latest.get(key, -1)
        return any(seq > newest_write and key.startswith(p) for seq, p in self._deletes.items())

    def add(self, op: Operation, *, held: bool = False) -> list[Operation]:
        """Schedule `op` (`held`: not runnable until `release`); return what it supersedes."""
        superseded: list[Operation] = []
        if op.op is Op.DELETE:
            deps = self._delete_deps(op.key)
        else:
            deps, superseded = self._write_deps(op)
        self._ops[op.seq] = op
        self._deps[op.seq] = deps
        for dep in deps:
            self._dependents[dep].add(op.seq)
        self._lanes[lane_of(op.key)].add(op.seq)
        if op.op is Op.DELETE:
            self._deletes[op.seq] = op.key
        else:
            self._latest[op.key] = op.seq
        if held:
            self._held.add(op.seq)
        self._push_if_ready(op.seq)
        return superseded

    def _write_deps(self, op: Operation) -> tuple[set[int], list[Operation]]:
        deps = {seq for seq, prefix in self._deletes.items()
                if op.key.startswith(prefix) or (op.source and op.source.startswith(prefix))}
        superseded: list[Operation] = []
        previous = self._latest.get(op.key)
        if previous is not None:
            if self._supersedable(previous):
                superseded.append(self.remove(previous))
            else:
                deps.add(previous)
        if op.op is Op.COPY and op.source in self._latest:
            deps.add(self._latest[op.source])
        if is_playlist(op.key):
            deps |= self._lanes.get(lane_of(op.key), set())
        return deps, superseded

    def _delete_deps(self, prefix: str) -> set[int]:
        return {seq for seq, op in self._ops.items()
                if op.key.startswith(prefix) or (op.source and op.source.startswith(prefix))}

    def _supersedable(self, seq: int) -> bool:
        op = self._ops[seq]
        if not is_playlist(op.key) or seq in self._running or seq in self._held:
            return False
        # A pending copy of this playlist must still copy this version.
        return not any(self._ops[d].source == op.key for d in self._dependents.get(seq, ()))

    def release(self, seq: int) -> None:
        """`seq` is durable now and may run."""
        self._held.discard(seq)
        self._push_if_ready(seq)

    def take(self) -> Operation | None:
        """The oldest runnable operation, now marked running; None when nothing can run."""
        if not self.has_ready():
            return None
        seq = heapq.heappop(self._ready)
        self._running.add(seq)
        return self._ops[seq]

    def rest(self, seq: int) -> None:
        """A running operation failed: it waits for `retry` (what depends on it waits too)."""
        self._running.discard(seq)
        if seq in self._ops:
            self._resting.add(seq)

    def retry(self, seq: int) -> None:
        """A failed operation becomes runnable again."""
        self._running.discard(seq)
        self._resting.discard(seq)
        self._push_if_ready(seq)

    def done(self, seq: int) -> None:
        """A running operation succeeded."""
        self._running.discard(seq)
        self._forget(seq, inherit=False)

    def remove(self, seq: int) -> Operation:
        """Drop an operation that will not run (superseded, deleted, failed for good).

        Whatever waited for it now waits for what it waited for, so order is kept.
        """
        self._running.discard(seq)
        return self._forget(seq, inherit=True)

    def drop_prefix(self, prefix: str) -> list[Operation]:
        """Remove every durable write under `prefix` not in flight (a delete is coming)."""
        doomed = [seq for seq, op in self._ops.items()
                  if op.op is not Op.DELETE and op.key.startswith(prefix)
                  and seq not in self._running and seq not in self._held]
        return [self.remove(seq) for seq in sorted(doomed)]

    def _forget(self, seq: int, *, inherit: bool) -> Operation:
        op = self._ops.pop(seq)
        deps = self._deps.pop(seq)
        for dep in deps:
            self._dependents[dep].discard(seq)
        for dependent in self._dependents.pop(seq, set()):
            waiting = self._deps[dependent]
            waiting.discard(seq)
            if inherit:
                waiting |= deps
                for dep in deps:
                    self._dependents[dep].add(dependent)
            self._push_if_ready(dependent)
        lane = self._lanes[lane_of(op.key)]
        lane.discard(seq)
        if not lane:
            del self._lanes[lane_of(op.key)]
        if self._latest.get(op.key) == seq:
            del self._latest[op.key]
        self._deletes.pop(seq, None)
        self._held.discard(seq)
        self._resting.discard(seq)
        return op

    def _is_ready(self, seq: int) -> bool:
        return (seq in self._ops and not self._deps[seq] and seq not in self._running
                and seq not in self._held and seq not in self._resting)

    def _push_if_ready(self, seq: int) -> None:
        if self._is_ready(seq):
            heapq.heappush(self._ready, seq)
