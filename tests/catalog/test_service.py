"""The Catalog service on SQLite and PostgreSQL: validation, lifecycle, segments and the reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from courtcast.catalog.models import Segment
from courtcast.catalog.service import (
    Catalog,
    CatalogError,
    Conflict,
    Invalid,
    NotFound,
    token_hash,
)
from tests.catalog.helpers import NOW, World, add_hearing, run_in_threads

BEIJING = timezone(timedelta(hours=8))


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def make_case(catalog: Catalog, court_id: int, number: str, **extra: Any) -> int:
    fields: dict[str, Any] = {
        "title": f"case {number}",
        "case_type": "civil",
        "cause": "合同纠纷",
        **extra,
    }
    case = catalog.create_case(court_id=court_id, case_number=number, **fields)
    assert case.id is not None
    return case.id


def segment(hearing_id: int, sequence: int, rendition: str = "source", **extra: Any) -> Segment:
    fields: dict[str, Any] = {
        "uri": f"{sequence}.m4s",
        "init_uri": "init0.mp4",
        "duration": 2.0,
        "program_date_time": NOW + timedelta(seconds=2 * sequence),
        **extra,
    }
    return Segment(hearing_id=hearing_id, rendition=rendition, sequence=sequence, **fields)


@contextmanager
def statements(catalog: Catalog) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(catalog.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(catalog.engine, "before_cursor_execute", record)


# --- errors -------------------------------------------------------------------------------


def test_errors_carry_stable_codes() -> None:
    assert [cls("m").code for cls in (NotFound, Conflict, Invalid)] == [
        "not_found",
        "conflict",
        "invalid",
    ]
    error = Invalid("name must not be empty", field="name")
    assert isinstance(error, CatalogError)
    assert (error.message, error.field) == ("name must not be empty", "name")


# --- courts, courtrooms, cases ------------------------------------------------------------


def test_court_tree_path_and_rooms(catalog: Catalog) -> None:
    root = catalog.create_court(
        name=" 最高人民法院 ", level="supreme", region="全国", code="最高法"
    )
    high = catalog.create_court(
        name="北京市高级人民法院", level="high", region="北京市", parent_id=root.id
    )
    basic = catalog.create_court(
        name="北京市朝阳区人民法院", level="basic", region="北京市 / 朝阳区", parent_id=high.id
    )
    other = catalog.create_court(name="Other root", level="special", region="X")
    assert root.name == "最高人民法院"  # trimmed
    assert basic.id is not None and root.id is not None
    room = catalog.create_courtroom(court_id=basic.id, name="第一法庭")

    tree = catalog.court_tree()
    assert [node.court.id for node in tree] == [root.id, other.id]
    assert tree[0].children[0].children[0].court.id == basic.id
    assert [c.id for c in catalog.court_path(basic.id)] == [root.id, high.id, basic.id]
    assert [c.id for c in catalog.court_path(root.id)] == [root.id]
    assert catalog.courtrooms(basic.id) == [room]
    assert catalog.courtrooms(root.id) == []
    assert catalog.court(basic.id).parent_id == high.id
    for call in (catalog.court, catalog.court_path, catalog.courtrooms):
        with pytest.raises(NotFound):
            call(9999)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "must not be empty"),
        ({"name": "x" * 201}, "name", "at most 200"),
        ({"name": 7}, "name", "must be a string"),
        ({"level": "county"}, "level", "must be one of supreme, high"),
        ({"region": ""}, "region", "must not be empty"),
        ({"code": "x" * 21}, "code", "at most 20"),
        ({"parent_id": "1"}, "parent_id", "integer id"),
    ],
)
def test_court_validation(
    catalog: Catalog, fields: dict[str, Any], field: str, message: str
) -> None:
    arguments: dict[str, Any] = {"name": "法院", "level": "basic", "region": "北京市", **fields}
    with pytest.raises(Invalid, match=message) as caught:
        catalog.create_court(**arguments)
    assert caught.value.field == field
    assert field in caught.value.message


def test_missing_references_are_not_found(catalog: Catalog, world: World) -> None:
    with pytest.raises(NotFound, match="parent_id: court 999 not found"):
        catalog.create_court(name="n", level="basic", region="r", parent_id=999)
    with pytest.raises(NotFound, match="court_id") as caught:
        catalog.create_courtroom(court_id=999, name="第二法庭")
    assert caught.value.field == "court_id"
    with pytest.raises(NotFound, match="court_id"):
        make_case(catalog, 999, "(2026)京0105民初2号")
    with pytest.raises(NotFound, match="case_id"):
        catalog.create_hearing(
            case_id=999,
            courtroom_id=world.room_id,
            scheduled_start=NOW,
            scheduled_end=NOW + timedelta(hours=1),
        )
    with pytest.raises(NotFound, match="courtroom_id"):
        add_hearing(catalog, World(world.court_id, 999, world.case_id))


def test_case_number_is_unique_in_any_bracket_spelling(catalog: Catalog, world: World) -> None:
    with pytest.raises(Conflict, match="exists already") as caught:
        make_case(catalog, world.court_id, "（2026）京0105民初1号")
    assert caught.value.field == "case_number"
    with pytest.raises(Conflict):
        make_case(catalog, world.court_id, "(2026)京0105民初1号")  # half-width brackets
    found = catalog.case_by_number("(2026)京0105民初1号")
    assert found is not None and found.id == world.case_id
    make_case(catalog, world.court_id, "(2026)京0105民初2号")  # a different number is fine


def test_case_fields_and_validation(catalog: Catalog, world: World) -> None:
    case_id = make_case(
        catalog,
        world.court_id,
        "2026-CR-17",  # other jurisdictions' numbers are accepted as they are
        parties="原告：张某；被告：李某",
        judges="审判长：王某某",
        restriction="juvenile",
        restriction_reason="涉及未成年人",
    )
    case = catalog.case(case_id)
    assert (case.restriction, case.judges, case.case_number) == (
        "juvenile",
        "审判长：王某某",
        "2026-CR-17",
    )
    with pytest.raises(Invalid, match="restriction must be one of"):
        make_case(catalog, world.court_id, "X-1", restriction="secret")
    with pytest.raises(Invalid, match="title"):
        make_case(catalog, world.court_id, "X-2", title="")
    with pytest.raises(Invalid, match="case_type"):
        make_case(catalog, world.court_id, "X-3", case_type="c" * 51)
    with pytest.raises(Invalid, match="parties must be at most 1000"):
        make_case(catalog, world.court_id, "X-4", parties="某" * 1001)
    with pytest.raises(NotFound):
        catalog.case(999)


# --- hearings -----------------------------------------------------------------------------


def test_hearing_defaults_keys_and_utc_storage(catalog: Catalog, world: World) -> None:
    start = datetime(2026, 3, 2, 9, 30, tzinfo=BEIJING)
    hearing_id = add_hearing(catalog, world, start, hours=1.5)
    other_id = add_hearing(catalog, world, start)

    hearing = catalog.hearing(hearing_id)  # read back in a new session
    assert hearing.scheduled_start == datetime(2026, 3, 2, 1, 30)  # 09:30+08:00 is 01:30 UTC
    assert hearing.scheduled_end == datetime(2026, 3, 2, 3, 0)
    assert hearing.scheduled_start.tzinfo is None
    assert (hearing.status, hearing.public, hearing.delay_seconds, hearing.profile) == (
        "scheduled",
        True,
        0,
        "passthrough",
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{24,64}", hearing.stream_key)
    assert re.fullmatch(r"[A-Za-z0-9_-]{24,64}", hearing.record_token)
    other = catalog.hearing(other_id)
    assert len({hearing.stream_key, hearing.record_token, other.stream_key}) == 3
    assert catalog.hearing_by_stream_key(hearing.stream_key) == hearing
    assert catalog.hearing_by_stream_key("no-such-key") is None
    assert catalog.hearing_by_stream_key("") is None
    with pytest.raises(NotFound, match="hearing 999 not found"):
        catalog.hearing(999)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scheduled_end": NOW}, "scheduled_end"),
        ({"scheduled_end": NOW - timedelta(minutes=1)}, "scheduled_end"),
        ({"scheduled_start": datetime(2026, 3, 2, 9, 30)}, "scheduled_start"),  # no offset
        ({"scheduled_start": "2026-03-02T09:30:00Z"}, "scheduled_start"),
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"delay_seconds": 1801}, "delay_seconds"),
        ({"delay_seconds": True}, "delay_seconds"),
        ({"profile": "4k"}, "profile"),
        ({"public": "yes"}, "public"),
        ({"case_id": None}, "case_id"),
    ],
)
def test_hearing_validation(
    catalog: Catalog, world: World, fields: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {
        "case_id": world.case_id,
        "courtroom_id": world.room_id,
        "scheduled_start": NOW,
        "scheduled_end": NOW + timedelta(hours=1),
        **fields,
    }
    with pytest.raises(Invalid) as caught:
        catalog.create_hearing(**arguments)
    assert caught.value.field == field
    assert field in caught.value.message


def test_hearing_limits_are_accepted(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world, delay_seconds=1800, profile="ladder", public=False)
    hearing = catalog.hearing(hearing_id)
    assert (hearing.delay_seconds, hearing.profile, hearing.public) == (1800, "ladder", False)


def test_courtroom_of_another_court_is_refused(catalog: Catalog, world: World) -> None:
    other = catalog.create_court(
        name="北京市西城区人民法院", level="basic", region="北京市 / 西城区"
    )
    assert other.id is not None
    room = catalog.create_courtroom(court_id=other.id, name="第一法庭")
    with pytest.raises(Invalid, match=f"belongs to court {other.id}") as caught:
        add_hearing(catalog, World(world.court_id, room.id or 0, world.case_id))
    assert caught.value.field == "courtroom_id"


# --- tokens -------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_can_be_revoked(catalog: Catalog) -> None:
    token = catalog.create_token(label="clerk desk 3")
    assert re.fullmatch(r"cc_[A-Za-z0-9_-]{43}", token)
    row = catalog.check_token(token)
    assert row is not None and (row.role, row.label) == ("admin", "clerk desk 3")
    assert row.token_hash == token_hash(token) != token
    with Session(catalog.engine) as session:
        stored = session.execute(text("SELECT token_hash FROM apitoken")).scalars().all()
    assert token not in stored and all(token not in value for value in stored)

    other = catalog.create_token()
    assert catalog.check_token(token + "x") is None
    assert catalog.check_token("") is None
    assert catalog.revoke_token(token) is True
    assert catalog.check_token(token) is None
    assert catalog.revoke_token(token) is False  # already revoked
    assert catalog.check_token(other) is not None
    with pytest.raises(Invalid, match="role"):
        catalog.create_token(role="Super Admin")


# --- lifecycle ----------------------------------------------------------------------------


def test_status_lifecycle_sets_times(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    live_at = datetime(2026, 3, 2, 17, 31, tzinfo=BEIJING)
    live = catalog.set_status(hearing_id, "live", at=live_at)
    assert (live.status, live.started_at, live.ended_at) == ("live", naive(live_at), None)

    catalog.set_status(hearing_id, "interrupted", at=NOW + timedelta(minutes=5))
    resumed = catalog.set_status(hearing_id, "live", at=NOW + timedelta(minutes=6))
    assert resumed.started_at == naive(live_at)  # the first LIVE only
    assert catalog.set_status(hearing_id, "live") == resumed  # same status: nothing changes

    ended = catalog.set_status(hearing_id, "ended", at=NOW + timedelta(hours=1))
    assert ended.ended_at == naive(NOW + timedelta(hours=1))
    assert catalog.hearing(hearing_id) == ended

    withdrawn = catalog.set_status(hearing_id, "withdrawn", at=NOW + timedelta(days=1))
    assert withdrawn.status == "withdrawn"
    # a late "ended" from the pipeline must not undo a court's withdrawal
    assert catalog.set_status(hearing_id, "ended") == withdrawn
    with pytest.raises(Conflict, match="cannot go from withdrawn to live"):
        catalog.set_status(hearing_id, "live")
    restored = catalog.restore(hearing_id, at=NOW + timedelta(days=2))
    assert restored.status == "ended"
    assert withdrawn.ended_at == restored.ended_at == naive(NOW + timedelta(hours=1))
    with pytest.raises(Conflict, match="is ended, not withdrawn"):
        catalog.restore(hearing_id)


def test_restoring_a_cancelled_broadcast_schedules_it_again(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    catalog.set_status(hearing_id, "withdrawn")
    restored = catalog.restore(hearing_id)
    assert (restored.status, restored.started_at, restored.ended_at) == ("scheduled", None, None)


def test_status_without_time_is_now(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    before = datetime.now(UTC).replace(tzinfo=None)
    started = catalog.set_status(hearing_id, "live").started_at
    assert started is not None and before <= started <= datetime.now(UTC).replace(tzinfo=None)


def test_invalid_status_changes(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    with pytest.raises(Invalid, match="status must be one of"):
        catalog.set_status(hearing_id, "paused")
    with pytest.raises(NotFound):
        catalog.set_status(999, "live")
    with pytest.raises(Conflict, match="cannot go from scheduled to interrupted"):
        catalog.set_status(hearing_id, "interrupted")
    catalog.set_status(hearing_id, "ended")
    with pytest.raises(Conflict, match="cannot go from ended to live"):
        catalog.set_status(hearing_id, "live")  # an ended broadcast's playlists are closed


def test_withdrawing_a_running_broadcast_ends_it(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    catalog.set_status(hearing_id, "live", at=NOW)
    withdrawn = catalog.set_status(hearing_id, "withdrawn", at=NOW + timedelta(minutes=9))
    assert withdrawn.ended_at == naive(NOW + timedelta(minutes=9))


def test_concurrent_status_changes_apply_one_transition_each(
    catalog: Catalog, world: World
) -> None:
    hearing_id = add_hearing(catalog, world)
    assert run_in_threads(lambda _: catalog.set_status(hearing_id, "live"), 6) == []
    assert catalog.hearing(hearing_id).status == "live"


# --- segments -----------------------------------------------------------------------------


def test_segments_sequence_publish_and_order(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    assert catalog.next_sequence(hearing_id) == 0
    for sequence in (2, 0, 1):
        catalog.add_segment(segment(hearing_id, sequence))
    catalog.add_segment(segment(hearing_id, 0, rendition="360p"))
    assert catalog.next_sequence(hearing_id) == 3
    assert catalog.next_sequence(hearing_id, "360p") == 1
    assert catalog.next_sequence(hearing_id, "720p") == 0

    catalog.mark_published(hearing_id, [0, 2])
    stored = catalog.segments(hearing_id)
    assert [s.sequence for s in stored] == [0, 1, 2]
    assert [s.published_at is not None for s in stored] == [True, False, True]
    published = catalog.segments(hearing_id, published_only=True)
    assert [s.sequence for s in published] == [0, 2]  # the gap is a cut in the public view
    assert catalog.segments(hearing_id, rendition="360p", published_only=True) == []

    first_time = published[0].published_at
    catalog.mark_published(hearing_id, [0, 1])
    again = catalog.segments(hearing_id, published_only=True)
    assert [s.sequence for s in again] == [0, 1, 2]
    assert again[0].published_at == first_time  # published once, its time kept
    catalog.mark_published(hearing_id, [])


def test_segment_times_are_stored_as_utc(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    when = datetime(2026, 3, 2, 17, 30, 1, 250000, tzinfo=BEIJING)
    added = catalog.add_segment(segment(hearing_id, 0, program_date_time=when))
    assert added.id is not None
    (stored,) = catalog.segments(hearing_id)
    assert stored.program_date_time == datetime(2026, 3, 2, 9, 30, 1, 250000)


def test_segment_conflicts_and_unknown_hearing(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    catalog.add_segment(segment(hearing_id, 0))
    with pytest.raises(Conflict, match="segment 0 of hearing"):
        catalog.add_segment(segment(hearing_id, 0))
    with pytest.raises(NotFound, match="hearing_id: hearing 999"):
        catalog.add_segment(segment(999, 0))


def test_mark_published_in_chunks(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    count = 1200  # more than one IN (...) chunk
    with Session(catalog.engine) as session:
        session.add_all(segment(hearing_id, n, program_date_time=naive(NOW)) for n in range(count))
        session.commit()
    catalog.mark_published(hearing_id, list(range(0, count, 2)))
    published = catalog.segments(hearing_id, published_only=True)
    assert [s.sequence for s in published] == list(range(0, count, 2))
    assert catalog.next_sequence(hearing_id) == count


# --- views --------------------------------------------------------------------------------


@pytest.fixture
def listed(catalog: Catalog, world: World) -> dict[str, int]:
    """Hearings of every kind: public and not, restricted, withdrawn, in two courts."""
    court2 = catalog.create_court(name="上海海事法院", level="special", region="上海市")
    assert court2.id is not None
    room2 = catalog.create_courtroom(court_id=court2.id, name="第一法庭").id or 0
    shanghai = World(court2.id, room2, make_case(catalog, court2.id, "（2026）沪72民初9号"))
    secret_case = make_case(
        catalog, world.court_id, "（2026）京0105刑初3号", restriction="juvenile"
    )
    secret = World(world.court_id, world.room_id, secret_case)
    ids = {
        "live": add_hearing(catalog, world, NOW - timedelta(hours=1)),
        "cut": add_hearing(catalog, shanghai, NOW - timedelta(minutes=30)),
        "soon": add_hearing(catalog, world, NOW + timedelta(hours=1)),
        "later": add_hearing(catalog, shanghai, NOW + timedelta(days=1)),
        "overdue": add_hearing(catalog, world, NOW - timedelta(hours=3), hours=1),
        "late_start": add_hearing(catalog, world, NOW - timedelta(minutes=10)),
        "old": add_hearing(catalog, world, NOW - timedelta(days=2)),
        "recent": add_hearing(catalog, shanghai, NOW - timedelta(days=1)),
        "private": add_hearing(catalog, world, NOW - timedelta(minutes=5), public=False),
        "restricted": add_hearing(catalog, secret, NOW - timedelta(minutes=5)),
        "withdrawn": add_hearing(catalog, world, NOW - timedelta(days=3)),
    }
    for key in ("live", "cut", "private", "restricted"):
        catalog.set_status(ids[key], "live", at=NOW)
    catalog.set_status(ids["cut"], "interrupted")
    for key, ended in (("old", 2), ("recent", 1), ("withdrawn", 3)):
        catalog.set_status(ids[key], "ended", at=NOW - timedelta(days=ended) + timedelta(hours=2))
    catalog.set_status(ids["withdrawn"], "withdrawn")
    for _ in range(3):
        catalog.add_view(ids["recent"])
    catalog.add_view(ids["soon"])
    return ids


def names(views: list[Any], ids: dict[str, int]) -> list[str]:
    by_id = {value: key for key, value in ids.items()}
    return [by_id[view.hearing.id] for view in views]


def test_public_lists(catalog: Catalog, listed: dict[str, int]) -> None:
    assert names(catalog.live_now(), listed) == ["live", "cut"]
    assert names(catalog.upcoming(now=NOW), listed) == ["late_start", "soon", "later"]
    assert names(catalog.upcoming(now=NOW, limit=1), listed) == ["late_start"]
    assert names(catalog.recent_replays(), listed) == ["recent", "old"]


def test_public_only_leaves_out_private_restricted_and_withdrawn(
    catalog: Catalog, listed: dict[str, int]
) -> None:
    hidden = {"private", "restricted", "withdrawn"}
    public = set(names(catalog.hearing_views(limit=500), listed))
    assert public == set(listed) - hidden
    everything = set(names(catalog.hearing_views(public_only=False), listed))
    assert everything == set(listed)
    clerk_live = catalog.hearing_views(statuses=["live"], public_only=False)
    assert names(clerk_live, listed) == ["live", "private", "restricted"]


def test_view_filters_and_orders(catalog: Catalog, world: World, listed: dict[str, int]) -> None:
    views = catalog.hearing_views
    assert names(views(court_id=world.court_id, statuses=["ended"]), listed) == ["old"]
    assert names(views(statuses=["ended"], order="start_desc"), listed) == ["recent", "old"]
    assert names(views(order="views_desc", limit=2), listed) == ["recent", "soon"]
    window = views(start_from=NOW - timedelta(hours=1), start_to=NOW + timedelta(hours=1))
    assert names(window, listed) == ["live", "cut", "late_start"]  # start_to is exclusive
    assert names(views(offset=1, limit=2), listed) == ["recent", "overdue"]
    assert names(views(region="上海", order="start_asc"), listed) == ["recent", "cut", "later"]
    assert names(views(court_level="special"), listed) == ["recent", "cut", "later"]
    assert names(views(search="(2026)沪72民初9号"), listed) == ["recent", "cut", "later"]
    assert names(views(search="沪72"), listed) == ["recent", "cut", "later"]
    assert names(views(search="100%"), listed) == []  # LIKE wildcards are literal
    assert names(views(cause="合同纠纷"), listed) == ["recent", "cut", "later"]
    assert len(views(cause="买卖合同纠纷")) == 5  # exact: one cause is not a part of another
    assert views(case_type="criminal") == []  # the only criminal case is restricted


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"order": "random"}, "order"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"statuses": ["paused"]}, "statuses"),
        ({"court_level": "county"}, "court_level"),
    ],
)
def test_view_arguments_are_checked(
    catalog: Catalog, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        catalog.hearing_views(**arguments)
    assert caught.value.field == field


def test_views_load_in_one_query(catalog: Catalog, listed: dict[str, int]) -> None:
    with statements(catalog) as seen:
        views = catalog.hearing_views(public_only=False)
        view = catalog.hearing_view(listed["cut"])
    selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2  # one per call, whatever the number of hearings
    assert len(views) == len(listed)
    assert (view.court.name, view.courtroom.name, view.case.case_number) == (
        "上海海事法院",
        "第一法庭",
        "（2026）沪72民初9号",
    )
    assert view.hearing.status == "interrupted"
    with pytest.raises(NotFound):
        catalog.hearing_view(999)


def test_add_view_counts_every_concurrent_viewer(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)

    def watch(_: int) -> None:
        for _ in range(25):
            catalog.add_view(hearing_id)

    assert run_in_threads(watch, 8) == []
    assert catalog.hearing(hearing_id).view_count == 200
    with pytest.raises(NotFound):
        catalog.add_view(999)


def test_hearings_due_to_end(catalog: Catalog, world: World) -> None:
    now = datetime.now(UTC)
    gone = add_hearing(catalog, world, now - timedelta(hours=3), hours=1)
    overrunning = add_hearing(catalog, world, now - timedelta(hours=3), hours=1)
    on_time = add_hearing(catalog, world, now - timedelta(minutes=30), hours=1)
    never_started = add_hearing(catalog, world, now - timedelta(hours=3), hours=1)
    for hearing_id in (gone, overrunning, on_time):
        catalog.set_status(hearing_id, "live", at=now - timedelta(hours=2))
    catalog.set_status(gone, "interrupted")
    catalog.add_segment(segment(gone, 0, created_at=naive(now - timedelta(minutes=20))))
    catalog.add_segment(segment(overrunning, 0))  # media keeps arriving: the trial runs over

    due = catalog.hearings_due_to_end(now)
    assert [h.id for h in due] == [gone]
    assert [h.id for h in catalog.hearings_due_to_end(now, idle=timedelta(minutes=30))] == []
    later = catalog.hearings_due_to_end(now + timedelta(hours=2))
    assert {h.id for h in later} == {gone, overrunning, on_time}
    assert never_started not in {h.id for h in later}
