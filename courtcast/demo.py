"""`courtcast demo`: serve with a seeded catalog, real replays and a simulated live courtroom."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, timedelta

from courtcast.catalog.models import HearingStatus, utcnow
from courtcast.catalog.seed import seed_demo
from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.server import CourtCast, wait_for_signal
from courtcast.simulator import EncoderSettings, SimulatedCourtroom, publish

log = logging.getLogger("courtcast.demo")

REPLAY_SECONDS = 30
DEMO_USER = "demo"


def demo_administrator(catalog: Catalog) -> str:
    """The demo's administrator with a new random password each run (printed, so a person can
    try the clerk pages at once); the demo listens on localhost unless told otherwise."""
    password = secrets.token_urlsafe(12)
    found = catalog.account_by_username(DEMO_USER)
    if found is None or found.id is None:
        catalog.create_account(username=DEMO_USER, role="admin", password=password,
                               display_name="Demo administrator")
    else:
        catalog.update_account(found.id, role="admin", password=password, disabled=False)
    return password


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
    try:
        await _record_replays(app, hearing_ids)
    except Exception:  # the live hearing and the portal go on without them
        log.exception("the demo's replays could not be recorded")


async def _record_replays(app: CourtCast, hearing_ids: list[int]) -> None:
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
        password = await asyncio.to_thread(demo_administrator, app.catalog)
        print(f"\nCourtCast demo is running.\n"
              f"  Live hearing:  {app.base_url}/hearings/{live_id}\n"
              f"  Portal:        {app.base_url}/\n"
              f"  Staff sign-in: {app.base_url}/login  user {DEMO_USER}, password {password}\n"
              f"  Press Ctrl+C to stop.\n", flush=True)
        # Archived hearings get real replays a few seconds later, through the same RTMP path;
        # Ctrl+C may come before they are done.
        replays = asyncio.create_task(record_replays(app, list(seed.replay_hearing_ids)))
        try:
            await wait_for_signal()
        finally:
            replays.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replays
    finally:
        if courtroom is not None:
            await courtroom.stop()
        await app.stop()
