"""Runs spooled storage operations against S3: in order, a few at a time, retried with backoff.

`submit` returns once an operation is durably spooled, whatever the state of the endpoint, so
the live pipeline never waits for S3. Workers take runnable operations from the `Scheduler`;
a failure puts the failed operation aside for its own backoff and makes the whole uploader
probe the endpoint one operation at a time, with exponentially growing pauses, until an
operation succeeds again. The spool's size is watched against a limit (see `SpoolAlarm`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from courtcast import metrics
from courtcast.storage.base import ObjectMeta, ObjectNotFound, StorageError
from courtcast.storage.s3client import S3Client
from courtcast.storage.scheduler import Op, Operation, Scheduler
from courtcast.storage.spool import Spool

log = logging.getLogger("courtcast.storage.s3")

T = TypeVar("T")
OUTAGE_REPORT_SECONDS = 30.0  # how often an ongoing outage is logged again
LOCAL_THREADS = 4  # spool writes and reads never queue behind slow uploads


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.25
    cap: float = 5.0  # an endpoint that is back is noticed within seconds

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (with jitter)."""
        ceiling: float = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return ceiling * random.uniform(0.5, 1.0)


class SpoolAlarm:
    """At the limit the spool keeps accepting writes (the record is never dropped); it logs
    ERROR, repeated every minute, and raises `courtcast_spool_over_limit` until it is back
    under 90 % of the limit."""

    REPEAT_SECONDS = 60.0

    def __init__(self, limit: int, where: str) -> None:
        self.limit = limit
        self.where = where
        self.over = False
        self._last = 0.0
        metrics.SPOOL_OVER_LIMIT.set(0)

    def check(self, size: int, count: int) -> None:
        now = time.monotonic()
        if size > self.limit and (not self.over or now - self._last > self.REPEAT_SECONDS):
            self.over, self._last = True, now
            metrics.SPOOL_OVER_LIMIT.set(1)
            log.error("media spool over its limit: %d bytes in %d operations waiting in %s "
                      "(limit %d); storage is not keeping up or unreachable. Writes are still "
                      "accepted, nothing is dropped, until the local disk is full",
                      size, count, self.where, self.limit)
        elif self.over and size < self.limit * 0.9:
            self.over = False
            metrics.SPOOL_OVER_LIMIT.set(0)
            log.warning("media spool back under its limit: %d bytes in %d operations",
                        size, count)


class Uploader:
    def __init__(self, client: S3Client, spool: Spool, *, concurrency: int, spool_limit: int,
                 backoff: Backoff | None = None) -> None:
        self.client = client
        self.spool = spool
        self.concurrency = concurrency
        self.backoff = backoff or Backoff()
        self.alarm = SpoolAlarm(spool_limit, str(spool.root))
        self.scheduler = Scheduler()
        self._upload_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="s3-upload")
        self._local_pool = ThreadPoolExecutor(LOCAL_THREADS, thread_name_prefix="s3-local")
        self._writing: dict[int, bytes] = {}  # puts being spooled, readable meanwhile
        self._waiters: dict[int, asyncio.Future[list[str]]] = {}
        self._attempts: dict[int, int] = {}
        self._sleeping: dict[int, asyncio.TimerHandle] = {}  # failed, waiting for a retry
        self._next_seq = 0
        self._bytes = 0
        self._in_flight = 0
        self._failures = 0  # in a row, across operations
        self._blocked_until = 0.0
        self._down_since: float | None = None
        self._reported = 0.0
        self._starting: asyncio.Future[None] | None = None
        self.on_stored: Callable[[Operation], None] | None = None  # e.g. a benchmark's probe
        self._workers: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()

    # -- what S3Storage calls ------------------------------------------------------------

    @property
    def spooled_bytes(self) -> int:
        return self._bytes

    @property
    def spooled_operations(self) -> int:
        return len(self.scheduler)

    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def submit(self, kind: Op, key: str, *, body: bytes = b"",
                     meta: ObjectMeta | None = None, source: str = "",
                     keep_result: bool = False) -> int:
        """Spool an operation durably; it runs in storage when its turn comes.

        `keep_result`: its result (a delete's keys) is kept for `wait`.
        """
        await self.start()
        op = Operation(self._next_seq, kind, key, meta, source, len(body), time.time())
        self._next_seq += 1
        superseded = self.scheduler.add(op, held=True)
        self._writing[op.seq] = body
        self._account(op, +1)
        try:
            await self._local(self.spool.write, op, body)
        except StorageError:
            self._undo(op, superseded)
            raise
        finally:
            self._writing.pop(op.seq, None)
        if keep_result:
            self._waiters[op.seq] = asyncio.get_running_loop().create_future()
        self.scheduler.release(op.seq)
        await self._discard(superseded)
        self._changed()
        return op.seq

    async def wait(self, seq: int, timeout: float) -> list[str] | None:
        """The kept result of operation `seq`, or None if it is not done in time."""
        waiter = self._waiters[seq]
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return None
        finally:
            del self._waiters[seq]

    async def spooled_body(self, op: Operation) -> bytes | None:
        """The bytes of a spooled put; None when it was stored meanwhile."""
        body = self._writing.get(op.seq)
        if body is not None:
            return body
        try:
            return await self._local(self.spool.read_body, op.seq)
        except FileNotFoundError:
            return None

    async def drop_prefix(self, prefix: str) -> list[Operation]:
        """Forget spooled writes under `prefix` that have not started (a delete follows)."""
        dropped = self.scheduler.drop_prefix(prefix)
        for op in dropped:
            handle = self._sleeping.pop(op.seq, None)
            if handle is not None:
                handle.cancel()
            self._attempts.pop(op.seq, None)
        await self._discard(dropped)
        self._changed()
        return dropped

    async def drained(self) -> None:
        """Wait until nothing is spooled any more."""
        await self.start()
        await self._idle.wait()

    async def close(self, grace: float) -> None:
        if self._starting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
            if len(self.scheduler):
                log.warning("%d storage operation(s), %d bytes, stay spooled in %s; they are "
                            "uploaded when courtcast starts again", len(self.scheduler),
                            self._bytes, self.spool.root)
            for worker in self._workers:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        for handle in self._sleeping.values():
            handle.cancel()
        self._upload_pool.shutdown(wait=False, cancel_futures=True)
        self._local_pool.shutdown(wait=False)

    # -- start and bookkeeping -----------------------------------------------------------

    async def _start(self) -> None:
        ops = await self._local(self.spool.load)
        for op in ops:
            await self._discard(self.scheduler.add(op))
            self._account(op, +1)
        self._next_seq = ops[-1].seq + 1 if ops else 0
        if ops:
            log.info("resuming %d spooled storage operation(s), %d bytes, from %s",
                     len(self.scheduler), self._bytes, self.spool.root)
        self._workers = [asyncio.create_task(self._work(), name=f"s3-upload-{n}")
                         for n in range(self.concurrency)]
        self._changed()

    def _account(self, op: Operation, sign: int) -> None:
        self._bytes += sign * op.size
        metrics.SPOOL_BYTES.set(self._bytes)
        metrics.SPOOL_OBJECTS.set(len(self.scheduler))

    def _changed(self) -> None:
        metrics.SPOOL_OBJECTS.set(len(self.scheduler))
        self.alarm.check(self._bytes, len(self.scheduler))
        if len(self.scheduler):
            self._idle.clear()
        else:
            self._idle.set()
        self._wake.set()

    def _undo(self, op: Operation, superseded: list[Operation]) -> None:
        # The spool refused the new version: what it superseded is still wanted.
        self.scheduler.remove(op.seq)
        self._account(op, -1)
        for old in superseded:
            self.scheduler.add(old)
        self._changed()

    async def _discard(self, ops: list[Operation]) -> None:
        for op in ops:
            self._account(op, -1)
            await self._local(self.spool.remove, op.seq)

    async def _local(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._local_pool, function, *args)

    # -- the workers ---------------------------------------------------------------------

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            op = await self._take()
            self._in_flight += 1
            try:
                result = await loop.run_in_executor(self._upload_pool, self._perform, op)
            except ObjectNotFound as exc:
                self._give_up(op, exc)
            except StorageError as exc:
                self._failed(op, exc)
            else:
                self._succeeded(op, result)
            finally:
                self._in_flight -= 1

    async def _take(self) -> Operation:
        loop = asyncio.get_running_loop()
        while True:
            pause = self._blocked_until - loop.time()
            # While storage fails, a single operation at a time probes it.
            if pause <= 0 and (self._failures == 0 or self._in_flight == 0):
                op = self.scheduler.take()
                if op is not None:
                    return op
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause if pause > 0 else None)

    def _perform(self, op: Operation) -> list[str]:
        """One operation, in a worker thread; the spool file goes once storage has it."""
        deleted: list[str] = []
        if op.op is Op.PUT:
            assert op.meta is not None
            try:
                body = self.spool.read_body(op.seq)
            except OSError as exc:
                raise ObjectNotFound(f"spool file of {op.key} is gone: {exc}") from exc
            self.client.put(op.key, body, op.meta)
        elif op.op is Op.COPY:
            assert op.meta is not None
            self.client.copy(op.source, op.key, op.meta)
        else:
            deleted = self.client.delete_prefix(op.key)
        self.spool.remove(op.seq)
        return deleted

    def _succeeded(self, op: Operation, result: list[str]) -> None:
        self.scheduler.done(op.seq)
        self._account(op, -1)
        self._attempts.pop(op.seq, None)
        metrics.UPLOADS.inc()
        if op.op is not Op.DELETE:
            metrics.UPLOAD_LAG.observe(max(0.0, time.time() - op.spooled_at))
        if self.on_stored is not None:
            self.on_stored(op)
        if self._down_since is not None:
            log.info("storage reachable again after %.0f s; %d spooled operation(s) to upload",
                     time.monotonic() - self._down_since, len(self.scheduler))
            self._down_since = None
        self._failures, self._blocked_until = 0, 0.0
        for seq in list(self._sleeping):  # storage is back: no need to sit out their backoff
            self._sleeping[seq].cancel()
            self._retry(seq)
        self._resolve(op.seq, result)
        self._changed()

    def _failed(self, op: Operation, exc: StorageError) -> None:
        loop = asyncio.get_running_loop()
        metrics.UPLOAD_FAILURES.inc()
        if op.op is not Op.DELETE and self.scheduler.deleted_later(op.seq):
            self._forget(op)  # a delete was asked for meanwhile: no point retrying
            return
        self._failures += 1
        attempts = self._attempts[op.seq] = self._attempts.get(op.seq, 0) + 1
        self._blocked_until = loop.time() + self.backoff.delay(self._failures)
        self.scheduler.rest(op.seq)  # what depends on it keeps waiting
        self._sleeping[op.seq] = loop.call_later(
            self.backoff.delay(attempts), self._retry, op.seq)
        self._report_outage(exc)
        self._wake.set()

    def _retry(self, seq: int) -> None:
        self._sleeping.pop(seq, None)
        self.scheduler.retry(seq)
        self._wake.set()

    def _give_up(self, op: Operation, exc: StorageError) -> None:
        log.error("storage operation %s %s abandoned: %s", op.op.value, op.key, exc)
        self._forget(op)

    def _forget(self, op: Operation) -> None:
        self.spool.remove(op.seq)
        self.scheduler.remove(op.seq)
        self._account(op, -1)
        self._attempts.pop(op.seq, None)
        self._resolve(op.seq, [])
        self._changed()

    def _resolve(self, seq: int, result: list[str]) -> None:
        waiter = self._waiters.get(seq)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def _report_outage(self, exc: StorageError) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = self._reported = now
            log.warning("storage write failed (%s); spooling on local disk in %s and retrying "
                        "with backoff", exc, self.spool.root)
        elif now - self._reported > OUTAGE_REPORT_SECONDS:
            self._reported = now
            log.warning("storage failing for %.0f s (%s): %d operation(s), %d bytes spooled",
                        now - self._down_since, exc, len(self.scheduler), self._bytes)
