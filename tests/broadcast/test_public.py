"""PublicView scheduling: delay, cut, resume. The publish callback records what went public."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from courtcast.broadcast.public import PublicView
from courtcast.catalog.models import Segment, utcnow


def segment(sequence: int, *, seconds_ago: float = 0.0) -> Segment:
    return Segment(hearing_id=1, sequence=sequence, uri=f"{sequence}.m4s", init_uri="init-0.mp4",
                   duration=2.0, program_date_time=utcnow() - timedelta(seconds=seconds_ago))


async def started(delay: float) -> tuple[PublicView, list[int]]:
    published: list[int] = []

    async def publish(item: Segment) -> None:
        published.append(item.sequence)

    view = PublicView(delay, publish)
    view.start()
    return view, published


async def test_segments_are_released_after_the_delay_in_order() -> None:
    view, published = await started(0.3)
    now = time.monotonic()
    for sequence in range(3):
        view.hold(segment(sequence), now)
    await asyncio.sleep(0.1)
    assert published == []
    await asyncio.wait_for(view.drained(), 2)
    assert published == [0, 1, 2]
    assert time.monotonic() - now >= 0.3
    await view.close()


async def test_a_cut_drops_everything_inside_the_delay_window() -> None:
    view, published = await started(0.3)
    now = time.monotonic()
    view.hold(segment(0), now - 1)  # already due: public before the cut
    await asyncio.sleep(0.05)
    view.hold(segment(1), now)
    view.hold(segment(2), now)
    assert view.cut() == 2
    assert not view.admits(segment(3))
    await asyncio.sleep(0.5)
    assert published == [0]
    assert view.dropped == 2
    await view.close()


async def test_after_a_resume_only_segments_starting_later_are_admitted() -> None:
    view, _ = await started(0.0)
    view.cut()
    view.resume()
    assert not view.admits(segment(5, seconds_ago=1.0)), "began during the cut"
    assert view.admits(segment(6, seconds_ago=-0.01))
    await view.close()


async def test_drained_waits_for_the_segment_being_published() -> None:
    release = asyncio.Event()
    published: list[int] = []

    async def slow_publish(item: Segment) -> None:
        await release.wait()
        published.append(item.sequence)

    view = PublicView(0.0, slow_publish)
    view.start()
    view.hold(segment(0), time.monotonic())
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(view.drained())
    await asyncio.sleep(0.05)
    assert not waiter.done(), "the segment is still being published"
    release.set()
    await asyncio.wait_for(waiter, 1)
    assert published == [0]
    await view.close()
