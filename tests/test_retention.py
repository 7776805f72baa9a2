"""Replays expire when their court's retention period has passed: withdrawn and audited."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from courtcast.catalog.service import RETENTION_REASON, AuditQuery, Catalog
from courtcast.retention import expire_replays
from tests.catalog.helpers import NOW, World, add_hearing, make_world


@dataclass
class Withdrawals:
    catalog: Catalog
    withdrawn: list[int] = field(default_factory=list)
    fail_for: int | None = None

    async def withdraw(self, hearing_id: int) -> None:
        # The catalog says withdrawn before storage is touched.
        assert self.catalog.hearing(hearing_id).status == "withdrawn"
        if hearing_id == self.fail_for:
            raise OSError("storage is down")
        self.withdrawn.append(hearing_id)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    return catalog


@pytest.fixture
def world(catalog: Catalog) -> World:
    return make_world(catalog)


def replay(catalog: Catalog, world: World, days_ago: int) -> int:
    hearing_id = add_hearing(catalog, world, NOW - timedelta(days=days_ago, hours=2), hours=1)
    catalog.set_status(hearing_id, "ended", at=NOW - timedelta(days=days_ago, hours=1))
    return hearing_id


async def test_expired_replays_are_withdrawn_and_audited(catalog: Catalog, world: World) -> None:
    old, recent = replay(catalog, world, 40), replay(catalog, world, 10)
    court_id = world.court_id
    catalog.update_court_settings(court_id, retention_days=30, default_profile=None,
                                  timestamp_overlay=False)
    broadcasts = Withdrawals(catalog)
    assert await expire_replays(catalog, broadcasts, NOW) == [old]
    assert broadcasts.withdrawn == [old]
    hearing = catalog.hearing(old)
    assert (hearing.status, hearing.withdrawn_reason) == ("withdrawn", RETENTION_REASON)
    assert catalog.hearing(recent).status == "ended"
    (entry,) = catalog.audit_entries(AuditQuery(hearing_id=old))
    assert (entry.actor, entry.account_id, entry.action) == ("system", None, "hearing.withdraw")
    assert entry.court_id == court_id
    assert json.loads(entry.details)["reason"] == RETENTION_REASON
    assert await expire_replays(catalog, broadcasts, NOW) == []  # nothing left to do


async def test_one_failure_does_not_stop_the_others(catalog: Catalog, world: World) -> None:
    first, second = replay(catalog, world, 40), replay(catalog, world, 50)
    catalog.update_court_settings(world.court_id, retention_days=30,
                                  default_profile=None, timestamp_overlay=False)
    broadcasts = Withdrawals(catalog, fail_for=first)
    assert await expire_replays(catalog, broadcasts, NOW) == [second]
    assert broadcasts.withdrawn == [second]
