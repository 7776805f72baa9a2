"""The demo catalog: a real court tree, a live hearing around now, replays, a hidden case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from courtcast.catalog.casenumber import parse_case_number
from courtcast.catalog.seed import seed_demo
from courtcast.catalog.service import Catalog

NOW = datetime(2026, 3, 2, 1, 37, 12, tzinfo=UTC)  # 09:37 in Beijing


def test_seed_builds_a_browsable_demo(catalog: Catalog) -> None:
    seed = seed_demo(catalog, NOW)
    assert seed.created
    naive_now = NOW.replace(tzinfo=None)

    live = catalog.hearing(seed.live_hearing_id)
    assert live.scheduled_start <= naive_now < live.scheduled_end
    assert live.status == "scheduled" and live.public
    assert seed.live_hearing_id in {v.hearing.id for v in catalog.upcoming(now=NOW)}

    assert 1 <= len(seed.replay_hearing_ids) <= 2
    for hearing_id in seed.replay_hearing_ids:
        replay = catalog.hearing(hearing_id)
        # over, yet recent enough for ingest to admit the demo's clip (2 h after the end)
        assert timedelta(0) < naive_now - replay.scheduled_end <= timedelta(hours=1, minutes=15)

    upcoming = catalog.upcoming(now=NOW)
    assert set(seed.scheduled_hearing_ids) <= {v.hearing.id for v in upcoming}
    assert any(v.hearing.scheduled_start.date() > naive_now.date() for v in upcoming)


def test_restricted_case_is_never_public(catalog: Catalog) -> None:
    seed = seed_demo(catalog, NOW)
    view = catalog.hearing_view(seed.restricted_hearing_id)
    assert view.case.restriction == "juvenile" and view.case.restriction_reason
    public = {v.hearing.id for v in catalog.hearing_views(limit=500)}
    assert seed.restricted_hearing_id not in public
    everything = {v.hearing.id for v in catalog.hearing_views(public_only=False, limit=500)}
    assert seed.restricted_hearing_id in everything


def test_court_tree_is_realistic(catalog: Catalog) -> None:
    seed = seed_demo(catalog, NOW)
    (root,) = catalog.court_tree()
    assert (root.court.name, root.court.level) == ("最高人民法院", "supreme")
    assert {child.court.level for child in root.children} == {"high"}
    path = [c.name for c in catalog.court_path(seed.court_ids["chaoyang"])]
    assert path == [
        "最高人民法院",
        "北京市高级人民法院",
        "北京市第三中级人民法院",
        "北京市朝阳区人民法院",
    ]
    levels = {court.level for court in catalog.courts()}
    assert levels == {"supreme", "high", "intermediate", "basic", "special"}
    assert all(catalog.courtrooms(court.id or 0) for court in catalog.courts())


def test_case_numbers_match_their_courts(catalog: Catalog) -> None:
    seed_demo(catalog, NOW)
    views = catalog.hearing_views(public_only=False, limit=500)
    assert len(views) >= 8
    for view in views:
        parsed = parse_case_number(view.case.case_number)
        assert parsed.court_code == view.court.code
        assert parsed.category == view.case.case_type
        assert view.courtroom.court_id == view.court.id


def test_seeding_again_changes_nothing(catalog: Catalog) -> None:
    first = seed_demo(catalog, NOW)
    counts = (len(catalog.courts()), len(catalog.hearing_views(public_only=False, limit=500)))
    second = seed_demo(catalog, NOW + timedelta(days=3))
    assert not second.created
    assert (second.live_hearing_id, second.replay_hearing_ids) == (
        first.live_hearing_id,
        first.replay_hearing_ids,
    )
    assert second.scheduled_hearing_ids == first.scheduled_hearing_ids
    assert second.court_ids == first.court_ids
    assert counts == (
        len(catalog.courts()),
        len(catalog.hearing_views(public_only=False, limit=500)),
    )


def test_naive_now_is_taken_as_utc(catalog: Catalog) -> None:
    seed = seed_demo(catalog, NOW.replace(tzinfo=None))
    live = catalog.hearing(seed.live_hearing_id)
    assert live.scheduled_start <= NOW.replace(tzinfo=None) < live.scheduled_end
