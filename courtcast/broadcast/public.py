"""What the public may see of a hearing: the record, delayed, minus what a clerk cut.

A segment becomes public when its release time (its last packet's arrival plus the hearing's
delay) has come and no cut has happened since it was recorded. A cut drops every segment still
waiting, so nothing inside the delay window at that moment ever becomes public; after a resume
only segments that start after the resume are offered, since earlier ones hold cut material.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from courtcast.catalog.models import Segment, utcnow

Publish = Callable[[Segment], Awaitable[None]]


@dataclass(slots=True)
class _Held:
    segment: Segment
    release_at: float  # time.monotonic()


class PublicView:
    def __init__(self, delay_seconds: float, publish: Publish) -> None:
        self.delay = delay_seconds
        self._publish = publish
        self._held: deque[_Held] = deque()
        self._changed = asyncio.Event()
        self.cut_active = False
        self._resumed_at: datetime | None = None
        self.dropped = 0  # segments that never became public (cut, or recorded while cut)
        self._publishing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._release_when_due(), name="public-view")

    def admits(self, segment: Segment) -> bool:
        """May this freshly recorded segment ever become public?"""
        if self.cut_active:
            return False
        return self._resumed_at is None or segment.program_date_time >= self._resumed_at

    def hold(self, segment: Segment, produced_at: float) -> None:
        """Publish `segment` once the delay after `produced_at` (monotonic) has passed."""
        self._held.append(_Held(segment, produced_at + self.delay))
        self._changed.set()

    def cut(self) -> int:
        """Stop publishing now; returns how many waiting segments will never be public."""
        self.cut_active = True
        dropped = len(self._held)
        self._held.clear()
        self.dropped += dropped
        self._changed.set()
        return dropped

    def resume(self) -> None:
        self.cut_active = False
        self._resumed_at = utcnow()

    @property
    def waiting(self) -> int:
        return len(self._held) + self._publishing

    async def drained(self) -> None:
        """Wait until every held segment has been published (or dropped by a cut)."""
        while self._held or self._publishing:
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _release_when_due(self) -> None:
        while True:
            if not self._held:
                self._changed.clear()
                await self._changed.wait()
                continue
            wait = self._held[0].release_at - time.monotonic()
            if wait > 0:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)
                continue  # a cut may have emptied the queue meanwhile
            held = self._held.popleft()
            self._publishing = True
            try:
                await self._publish(held.segment)
            finally:
                self._publishing = False
                self._changed.set()
