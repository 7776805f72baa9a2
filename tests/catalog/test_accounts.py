"""Accounts, court assignments, sign-in with throttling, sessions and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from courtcast.catalog import accounts
from courtcast.catalog.models import utcnow
from courtcast.catalog.service import (
    BUILTIN_ADMIN,
    Catalog,
    Conflict,
    Invalid,
    InvalidLogin,
    NotFound,
    Throttled,
)
from tests.catalog.helpers import NOW, World

PASSWORD = "correct horse battery"


def clerk(catalog: Catalog, world: World, name: str = "clerk.li", **extra: object) -> int:
    account = catalog.create_account(
        username=name, role="clerk", password=PASSWORD, court_ids=[world.court_id],
        **extra,  # type: ignore[arg-type]
    )
    assert account.id is not None
    return account.id


def test_production_hasher_is_argon2id() -> None:
    assert PasswordHasher().hash("x").startswith("$argon2id$v=19$m=65536,t=3")


def test_create_account_hashes_the_password(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world, "Clerk.Li ")  # user names are lowercased and trimmed
    account = catalog.account(account_id)
    assert account.username == "clerk.li" and account.role == "clerk"
    assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
    assert catalog.account_court_ids([account_id]) == {account_id: [world.court_id]}
    assert catalog.account_by_username("CLERK.LI") is not None
    assert [a.username for a in catalog.accounts()] == ["clerk.li"]


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"username": "x"}, Invalid, "username"),
        ({"username": "has space"}, Invalid, "username"),
        ({"role": "judge"}, Invalid, "role"),
        ({"password": "short"}, Invalid, "password"),
        ({"username": BUILTIN_ADMIN}, Conflict, "username"),
        ({"username": "system"}, Conflict, "username"),
        ({"court_ids": [424242]}, NotFound, "court_ids"),
    ],
)
def test_account_validation(
    catalog: Catalog, fields: dict[str, object], error: type[Exception], field: str
) -> None:
    good: dict[str, object] = {"username": "a.clerk", "role": "clerk", "password": PASSWORD}
    with pytest.raises(error) as caught:
        catalog.create_account(**{**good, **fields})  # type: ignore[arg-type]
    assert getattr(caught.value, "field", None) == field


def test_duplicate_username(catalog: Catalog, world: World) -> None:
    clerk(catalog, world)
    with pytest.raises(Conflict, match="exists"):
        clerk(catalog, world)


def test_actor_rights_do_not_cover_child_courts(catalog: Catalog, world: World) -> None:
    child = catalog.create_court(name="望京法庭", level="basic", region="北京市",
                                 parent_id=world.court_id)
    assert child.id is not None
    plain = catalog.actor(clerk(catalog, world))
    approver = catalog.actor(clerk(catalog, world, "clerk.wang", can_approve=True))
    assert plain is not None and approver is not None
    assert plain.manages(world.court_id) and not plain.manages(child.id)
    assert not plain.may_approve(world.court_id) and approver.may_approve(world.court_id)
    admin = catalog.actor(catalog.builtin_admin().id or 0)
    assert admin is not None and admin.is_admin and admin.may_approve(child.id)


def test_authenticate(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world)
    actor = catalog.authenticate("Clerk.Li", PASSWORD, ip="10.0.0.1")
    assert actor.account_id == account_id and actor.court_ids == {world.court_id}
    for username, password in (("clerk.li", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(InvalidLogin):
            catalog.authenticate(username, password, ip="10.0.0.1")
    catalog.update_account(account_id, disabled=True)
    with pytest.raises(InvalidLogin):
        catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.1")
    with pytest.raises(InvalidLogin):  # the built-in account has no password at all
        catalog.authenticate(BUILTIN_ADMIN, "", ip="10.0.0.1")


def test_old_hashes_are_upgraded_at_sign_in(
    catalog: Catalog, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = clerk(catalog, world)
    before = catalog.account(account_id).password_hash
    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=2, memory_cost=512,
                                                           parallelism=1))
    catalog.authenticate("clerk.li", PASSWORD, ip="")
    after = catalog.account(account_id).password_hash
    assert after != before and "t=2" in after


def test_sign_in_is_throttled_per_user_name(catalog: Catalog, world: World) -> None:
    clerk(catalog, world)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        with pytest.raises(InvalidLogin):
            catalog.authenticate("clerk.li", "guess guess guess", ip="10.0.0.9", now=NOW)
    with pytest.raises(Throttled) as caught:  # even the right password: guessing gains nothing
        catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.8", now=NOW + timedelta(minutes=1))
    assert 0 < caught.value.retry_after <= 15 * 60
    later = NOW + accounts.LOGIN_WINDOW + timedelta(seconds=1)
    assert catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.8", now=later).username


def test_sign_in_is_throttled_per_address(
    catalog: Catalog, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "MAX_FAILURES_PER_IP", 3)
    clerk(catalog, world)
    for name in ("a.b", "c.d", "e.f"):  # a different user name each time
        with pytest.raises(InvalidLogin):
            catalog.authenticate(name, "guess guess guess", ip="10.0.0.7", now=NOW)
    with pytest.raises(Throttled):
        catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.7", now=NOW)
    assert catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.6", now=NOW).username


def test_changing_ones_own_password(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world)
    session = catalog.open_session(account_id)
    with pytest.raises(InvalidLogin):
        catalog.change_password(account_id, "not the password", "a new long password", ip="")
    with pytest.raises(Invalid) as same:
        catalog.change_password(account_id, PASSWORD, PASSWORD, ip="")
    assert same.value.field == "password"
    with pytest.raises(Invalid):
        catalog.change_password(account_id, PASSWORD, "short", ip="")
    assert catalog.session_actor(session) is not None  # nothing changed so far
    catalog.change_password(account_id, PASSWORD, "a new long password", ip="10.0.0.5")
    assert catalog.session_actor(session) is None  # signed out everywhere
    with pytest.raises(InvalidLogin):
        catalog.authenticate("clerk.li", PASSWORD, ip="")
    assert catalog.authenticate("clerk.li", "a new long password", ip="").username == "clerk.li"


def test_a_wrong_current_password_counts_towards_the_throttle(catalog: Catalog,
                                                              world: World) -> None:
    account_id = clerk(catalog, world)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        with pytest.raises(InvalidLogin):
            catalog.change_password(account_id, "guess guess guess", "a new long password",
                                    ip="10.0.0.4")
    with pytest.raises(Throttled):
        catalog.change_password(account_id, PASSWORD, "a new long password", ip="10.0.0.4")
    with pytest.raises(Throttled):
        catalog.authenticate("clerk.li", PASSWORD, ip="10.0.0.3")


def test_sessions(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world)
    cookie = catalog.open_session(account_id, ip="10.0.0.1")
    signed = catalog.session_actor(cookie)
    assert signed is not None and signed.actor.account_id == account_id
    assert len(signed.csrf_token) >= 40
    assert catalog.session_actor(cookie + "x") is None
    catalog.close_session(cookie)
    assert catalog.session_actor(cookie) is None


def test_sessions_expire_and_stop_with_the_account(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world)
    idle, expired, disabled = (catalog.open_session(account_id) for _ in range(3))
    now, minute = utcnow(), timedelta(minutes=1)
    assert catalog.session_actor(idle, now=now + accounts.SESSION_IDLE + minute) is None
    assert catalog.session_actor(expired, now=now + accounts.SESSION_LIFETIME + minute) is None
    catalog.update_account(account_id, disabled=True)
    assert catalog.session_actor(disabled) is None
    catalog.update_account(account_id, disabled=False)
    kept = catalog.open_session(account_id)
    catalog.update_account(account_id, password="another long password")
    assert catalog.session_actor(kept) is None  # a new password signs out everywhere
    assert catalog.purge_sessions() == 0


def test_tokens_belong_to_accounts(catalog: Catalog, world: World) -> None:
    account_id = clerk(catalog, world)
    token = catalog.create_token(label="court script", account_id=account_id)
    actor = catalog.token_actor(token)
    assert actor is not None and actor.account_id == account_id and actor.role == "clerk"
    row = catalog.check_token(token)
    assert row is not None and (row.role, row.account_id) == ("clerk", account_id)
    (listed,) = catalog.tokens(account_id)
    other = clerk(catalog, world, "clerk.wang")
    assert catalog.revoke_token_id(listed.id or 0, account_id=other) is False  # not theirs
    catalog.update_account(account_id, disabled=True)
    assert catalog.token_actor(token) is None and catalog.check_token(token) is None
    with pytest.raises(Conflict, match="disabled"):
        catalog.create_token(account_id=account_id)
    catalog.update_account(account_id, disabled=False)
    assert catalog.token_actor(token) is not None  # enabled again: the token works again
    assert catalog.revoke_token_id(listed.id or 0, account_id=account_id) is True
    assert catalog.token_actor(token) is None


def test_tokens_without_an_account_are_the_builtin_administrators(catalog: Catalog) -> None:
    token = catalog.create_token(role="admin")
    actor = catalog.token_actor(token)
    assert actor is not None and actor.username == BUILTIN_ADMIN and actor.is_admin
    assert catalog.builtin_admin().id == actor.account_id  # made once, then reused
    assert catalog.accounts() == []  # not listed with the people's accounts
    with pytest.raises(Invalid, match="role"):
        catalog.create_token(role="clerk")
