"""Small builders shared by the catalog tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from courtcast.catalog.service import Catalog


@dataclass(frozen=True)
class World:
    """A court with a courtroom and a case: what most hearing tests need."""

    court_id: int
    room_id: int
    case_id: int


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def make_world(catalog: Catalog) -> World:
    court = catalog.create_court(
        name="北京市朝阳区人民法院", level="basic", region="北京市 / 朝阳区"
    )
    assert court.id is not None
    room = catalog.create_courtroom(court_id=court.id, name="第一法庭")
    case = catalog.create_case(
        court_id=court.id,
        case_number="（2026）京0105民初1号",
        title="张某诉某科技有限公司买卖合同纠纷案",
        case_type="civil",
        cause="买卖合同纠纷",
    )
    assert room.id is not None and case.id is not None
    return World(court.id, room.id, case.id)


def add_hearing(
    catalog: Catalog,
    world: World,
    start: datetime = NOW,
    hours: float = 2,
    *,
    approved: bool = True,
    **extra: object,
) -> int:
    """A hearing of the world's case; approved by the built-in administrator unless `approved`
    is False or the case is restricted (which can never be approved)."""
    hearing = catalog.create_hearing(
        case_id=world.case_id,
        courtroom_id=world.room_id,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=hours),
        **extra,  # type: ignore[arg-type]
    )
    assert hearing.id is not None
    if approved and catalog.case(world.case_id).restriction is None:
        catalog.approve_hearing(hearing.id, account_id=catalog.builtin_admin().id or 0)
    return hearing.id


def run_in_threads(work: Callable[[int], object], count: int) -> list[BaseException]:
    """Run `work(0)` .. `work(count - 1)` at once in threads; the errors they raised."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
