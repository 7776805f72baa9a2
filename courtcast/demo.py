"""`courtcast demo`: serve with a seeded catalog, real replays and a simulated live courtroom."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta

from courtcast.catalog.models import HearingStatus, utcnow
from courtcast.catalog.seed import seed_demo
from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.server import CourtCast, wait_for_signal
from courtcast.simulator import EncoderSettings, SimulatedCourtroom, publish

log = logging.getLogger("courtcast.demo")

REPLAY_SECONDS = 30


def live_hearing_id(catalog: Catalog, seeded_id: int) -> int:
    """The seeded live hearing, or a fresh one for its case when a previous demo ended it."""
    hearing = catalog.hearing(seeded_id)
    now = utcnow()
    if hearing.status == HearingStatus.SCHEDULED.value or (
        hearing.status == HearingStatus.LIVE.value and hearing.scheduled_end > now
    ):
        return seeded_id
    fresh = catalog.create_hearing(
        case_id=hearing.case_id,
        courtroom_id=hearing.courtroom_id,
        scheduled_start=(now - timedelta(minutes=5)).replace(tzinfo=UTC),
        scheduled_end=(now + timedelta(hours=3)).replace(tzinfo=UTC),
    )
    assert fresh.id is not None
    catalog.approve_hearing(fresh.id, account_id=catalog.builtin_admin().id or 0)
    return fresh.id


async def record_replays(app: CourtCast, hearing_ids: list[int]) -> None:
    """Publish a short clip to each archived hearing over RTMP, then end it: real replays."""
    for hearing_id in hearing_ids:
        hearing = await asyncio.to_thread(app.catalog.hearing, hearing_id)
        if hearing.status != HearingStatus.SCHEDULED.value:
            continue
        url = app.broadcaster.rtmp_url(hearing.stream_key, "127.0.0.1")
        await publish(url, duration=REPLAY_SECONDS, realtime=False,
                      settings=EncoderSettings(caption="CourtCast archived hearing"))
        await app.broadcaster.end_hearing(hearing_id)


async def run_demo(config: Config) -> None:
    app = CourtCast(config)
    await app.start()
    courtroom: SimulatedCourtroom | None = None
    try:
        seed = await asyncio.to_thread(seed_demo, app.catalog, utcnow())
        live_id = await asyncio.to_thread(live_hearing_id, app.catalog, seed.live_hearing_id)
        live = await asyncio.to_thread(app.catalog.hearing, live_id)
        courtroom = SimulatedCourtroom(app.broadcaster.rtmp_url(live.stream_key, "127.0.0.1"))
        courtroom.start()
        print(f"\nCourtCast demo is running.\n"
              f"  Live hearing:  {app.base_url}/hearings/{live_id}\n"
              f"  Portal:        {app.base_url}/\n"
              f"  Press Ctrl+C to stop.\n", flush=True)
        # Archived hearings get real replays a few seconds later, through the same RTMP path.
        await record_replays(app, list(seed.replay_hearing_ids))
        await wait_for_signal()
    finally:
        if courtroom is not None:
            await courtroom.stop()
        await app.stop()
