"""Disclosure in the catalog: approval, restriction, withdrawal, key rotation, retention, court
settings, search-engine exclusion and the append-only audit log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from courtcast.catalog.service import (
    RETENTION_REASON,
    AuditQuery,
    Catalog,
    Conflict,
    Invalid,
    NotFound,
    Restricted,
    broadcast_refusal,
)
from tests.catalog.helpers import NOW, World, add_hearing


def admin_id(catalog: Catalog) -> int:
    return catalog.builtin_admin().id or 0


def test_approval_records_who_and_when(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world, approved=False)
    assert broadcast_refusal(catalog.hearing_view(hearing_id)) == (
        "not_approved", f"hearing {hearing_id} has not been approved for broadcast")
    approver = catalog.create_account(username="clerk.li", role="clerk", can_approve=True)
    hearing = catalog.approve_hearing(hearing_id, account_id=approver.id or 0, at=NOW)
    assert hearing.approved_by == approver.id
    assert hearing.approved_at == NOW.replace(tzinfo=None)
    again = catalog.approve_hearing(hearing_id, account_id=admin_id(catalog))
    assert (again.approved_by, again.approved_at) == (approver.id, hearing.approved_at)
    assert broadcast_refusal(catalog.hearing_view(hearing_id)) is None
    with pytest.raises(NotFound):
        catalog.approve_hearing(hearing_id, account_id=424242)


def test_restricted_cases_are_never_approved(catalog: Catalog, world: World) -> None:
    secret = catalog.create_case(court_id=world.court_id, case_number="（2026）京0105刑初9号",
                                 title="t", case_type="criminal", cause="theft",
                                 restriction="juvenile", restriction_reason="a minor")
    hearing_id = add_hearing(catalog, World(world.court_id, world.room_id, secret.id or 0))
    with pytest.raises(Restricted, match="juvenile") as caught:
        catalog.approve_hearing(hearing_id, account_id=admin_id(catalog))
    assert caught.value.code == "restricted" and isinstance(caught.value, Conflict)
    code, _message = broadcast_refusal(catalog.hearing_view(hearing_id)) or ("", "")
    assert code == "restricted"


def test_ended_hearings_cannot_be_approved(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world, approved=False)
    catalog.set_status(hearing_id, "ended")
    with pytest.raises(Conflict, match="too late"):
        catalog.approve_hearing(hearing_id, account_id=admin_id(catalog))


def test_unapproved_hearings_are_not_public(catalog: Catalog, world: World) -> None:
    waiting = add_hearing(catalog, world, NOW + timedelta(hours=1), approved=False)
    shown = add_hearing(catalog, world, NOW + timedelta(hours=2))
    assert [v.hearing.id for v in catalog.upcoming(now=NOW)] == [shown]
    everything = catalog.hearing_views(public_only=False)
    assert {v.hearing.id for v in everything} == {waiting, shown}


def test_also_court_ids_adds_a_clerks_own_hidden_hearings(catalog: Catalog, world: World) -> None:
    other = catalog.create_court(name="上海海事法院", level="special", region="上海市")
    room = catalog.create_courtroom(court_id=other.id or 0, name="第一法庭")
    case = catalog.create_case(court_id=other.id or 0, case_number="（2026）沪72民初1号",
                               title="t", case_type="civil", cause="c")
    mine = add_hearing(catalog, world, approved=False)
    theirs = add_hearing(catalog, World(other.id or 0, room.id or 0, case.id or 0),
                         approved=False)
    public = add_hearing(catalog, world, NOW + timedelta(hours=3))
    seen = {v.hearing.id for v in catalog.hearing_views(also_court_ids={world.court_id})}
    assert seen == {mine, public} and theirs not in seen
    only = catalog.hearing_views(public_only=False, court_ids={other.id or 0})
    assert [v.hearing.id for v in only] == [theirs]


def test_withdraw_and_restore_keep_the_reason(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    catalog.set_status(hearing_id, "live", at=NOW)
    catalog.set_status(hearing_id, "ended", at=NOW + timedelta(hours=1))
    with pytest.raises(Invalid) as caught:
        catalog.withdraw(hearing_id, reason="  ")
    assert caught.value.field == "withdrawn_reason"
    withdrawn = catalog.withdraw(hearing_id, reason="court order 2026-17", at=NOW)
    assert withdrawn.status == "withdrawn" and withdrawn.withdrawn_reason == "court order 2026-17"
    assert withdrawn.withdrawn_at == NOW.replace(tzinfo=None)
    assert catalog.withdraw(hearing_id, reason="again").withdrawn_reason == "court order 2026-17"
    assert catalog.hearing_views() == []  # not public, not searchable
    restored = catalog.restore(hearing_id)
    assert restored.status == "ended" and restored.withdrawn_reason == ""
    assert restored.withdrawn_at is None


def test_rotating_the_stream_key(catalog: Catalog, world: World) -> None:
    hearing_id = add_hearing(catalog, world)
    old = catalog.hearing(hearing_id).stream_key
    new = catalog.rotate_stream_key(hearing_id).stream_key
    assert new != old and len(new) == 32
    assert catalog.hearing_by_stream_key(old) is None
    assert catalog.hearing_by_stream_key(new) is not None
    catalog.set_status(hearing_id, "ended")
    with pytest.raises(Conflict, match="expired"):
        catalog.rotate_stream_key(hearing_id)


def test_profile_defaults_to_the_courts(catalog: Catalog, world: World) -> None:
    assert catalog.hearing(add_hearing(catalog, world)).profile == "passthrough"
    court = catalog.update_court_settings(world.court_id, retention_days=30,
                                          default_profile="ladder", timestamp_overlay=True)
    assert (court.retention_days, court.default_profile, court.timestamp_overlay) == (
        30, "ladder", True)
    assert catalog.hearing(add_hearing(catalog, world)).profile == "ladder"
    explicit = add_hearing(catalog, world, profile="passthrough")
    assert catalog.hearing(explicit).profile == "passthrough"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": True}, "retention_days"),
        ({"default_profile": "4k"}, "default_profile"),
        ({"timestamp_overlay": "yes"}, "timestamp_overlay"),
    ],
)
def test_court_settings_are_checked(
    catalog: Catalog, world: World, settings: dict[str, object], field: str
) -> None:
    good: dict[str, object] = {"retention_days": None, "default_profile": None,
                               "timestamp_overlay": False}
    with pytest.raises(Invalid) as caught:
        catalog.update_court_settings(world.court_id, **{**good, **settings})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_replays_due_to_expire(catalog: Catalog, world: World) -> None:
    other = catalog.create_court(name="上海海事法院", level="special", region="上海市",
                                 retention_days=365)
    room = catalog.create_courtroom(court_id=other.id or 0, name="第一法庭")
    case = catalog.create_case(court_id=other.id or 0, case_number="（2026）沪72民初1号",
                               title="t", case_type="civil", cause="c")
    shanghai = World(other.id or 0, room.id or 0, case.id or 0)
    catalog.update_court_settings(world.court_id, retention_days=30, default_profile=None,
                                  timestamp_overlay=False)

    def ended(w: World, days_ago: int) -> int:
        """A replay whose hearing ended `days_ago` days (and an hour) before NOW."""
        start = NOW - timedelta(days=days_ago, hours=2)
        hearing_id = add_hearing(catalog, w, start, hours=1)
        catalog.set_status(hearing_id, "live", at=start)
        catalog.set_status(hearing_id, "ended", at=start + timedelta(hours=1))
        return hearing_id

    old = ended(world, 31)
    ended(world, 29)
    ended(shanghai, 100)
    old_shanghai = ended(shanghai, 366)
    withdrawn = ended(world, 40)
    catalog.withdraw(withdrawn, reason="court order")
    add_hearing(catalog, world, NOW - timedelta(days=60))  # never held: still scheduled
    due = [h.id for h in catalog.replays_due_to_expire(NOW)]
    assert due == [old, old_shanghai]
    catalog.update_court_settings(world.court_id, retention_days=None, default_profile=None,
                                  timestamp_overlay=False)
    assert [h.id for h in catalog.replays_due_to_expire(NOW)] == [old_shanghai]


def test_indexable_hearings_leave_out_noindex_and_hidden(catalog: Catalog, world: World) -> None:
    listed = add_hearing(catalog, world)
    add_hearing(catalog, world, noindex=True)
    add_hearing(catalog, world, public=False)
    add_hearing(catalog, world, approved=False)
    assert [hid for hid, _changed in catalog.indexable_hearings()] == [listed]


def test_server_secret_is_made_once(catalog: Catalog) -> None:
    first = catalog.server_secret("record_url")
    assert len(first) == 32 and catalog.server_secret("record_url") == first
    assert catalog.server_secret("other") != first


def test_audit_log_records_and_filters(catalog: Catalog, world: World) -> None:
    actor = catalog.actor(admin_id(catalog))
    assert actor is not None
    catalog.record_audit("hearing.cut", actor, ip="10.0.0.1", court_id=world.court_id,
                         hearing_id=7, details={"from": "live"}, at=NOW)
    catalog.record_audit("hearing.withdraw", None, hearing_id=7, at=NOW + timedelta(hours=1))
    catalog.record_audit("login.failed", None, actor_name="anonymous",
                         at=NOW + timedelta(hours=2))
    newest_first = catalog.audit_entries()
    assert [e.action for e in newest_first] == ["login.failed", "hearing.withdraw", "hearing.cut"]
    cut = newest_first[-1]
    assert (cut.actor, cut.account_id, cut.ip) == (actor.username, actor.account_id, "10.0.0.1")
    assert json.loads(cut.details) == {"from": "live"}
    assert newest_first[1].actor == "system" and newest_first[0].actor == "anonymous"
    assert len(catalog.audit_entries(AuditQuery(hearing_id=7))) == 2
    assert len(catalog.audit_entries(AuditQuery(action="hearing."))) == 2
    assert len(catalog.audit_entries(AuditQuery(actor="SYSTEM"))) == 1
    window = AuditQuery(start=NOW + timedelta(minutes=30), end=NOW + timedelta(hours=2))
    assert [e.action for e in catalog.audit_entries(window)] == ["hearing.withdraw"]
    assert next(e.action for e in catalog.iter_audit()) == "hearing.cut"  # oldest first
    assert catalog.audit_actions() == ["hearing.cut", "hearing.withdraw", "login.failed"]


@pytest.mark.parametrize("statement", ["UPDATE auditentry SET actor = 'me'",
                                       "DELETE FROM auditentry"])
def test_audit_log_is_append_only(catalog: Catalog, statement: str) -> None:
    catalog.record_audit("hearing.cut", None)
    with pytest.raises(DatabaseError, match="append-only"), catalog.engine.begin() as connection:
        connection.execute(text(statement))
    assert len(catalog.audit_entries()) == 1


def test_retention_reason_is_stable() -> None:
    assert RETENTION_REASON == "retention period ended"
