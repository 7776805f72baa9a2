"""Accounts in the JSON API: what administrators provision, what it shows, what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from courtcast.catalog.service import AuditQuery, Catalog, InvalidLogin
from tests.web.conftest import PASSWORD, Seed, Staff

Client = TestClient[Any, Any]
NEW_PASSWORD = "the clerk's first password"


def admin(staff: Staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff.tokens['admin']}"}


async def json_of(response: Any, status: int) -> Any:
    data = await response.json()
    assert response.status == status, data
    return data


async def test_an_administrator_provisions_a_clerk(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    created = await json_of(await client.post("/api/v1/accounts", headers=admin(staff), json={
        "username": "Clerk.Zhou", "role": "clerk", "password": NEW_PASSWORD,
        "display_name": "周书记员", "court_ids": [seed.court], "can_approve": True}), 201)
    assert created["username"] == "clerk.zhou" and created["court_ids"] == [seed.court]
    assert created["can_approve"] and created["can_sign_in"] and not created["disabled"]
    assert catalog.authenticate("clerk.zhou", NEW_PASSWORD, ip="").court_ids == {seed.court}
    (entry,) = catalog.audit_entries(AuditQuery(action="account.create"))
    assert entry.actor == "admin.zhao"

    listed = await json_of(await client.get("/api/v1/accounts", headers=admin(staff)), 200)
    names = [item["username"] for item in listed["items"]]
    assert "clerk.zhou" in names and "system" not in names
    assert all("password" not in key for item in listed["items"] for key in item)
    one = await json_of(await client.get(f"/api/v1/accounts/{created['id']}",
                                         headers=admin(staff)), 200)
    assert one == created


async def test_changes_are_partial_and_signing_out_follows(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    url = f"/api/v1/accounts/{staff.clerk}"
    moved = await json_of(await client.patch(url, headers=admin(staff), json={
        "court_ids": [seed.child_court], "can_approve": False}), 200)
    assert moved["court_ids"] == [seed.child_court] and not moved["can_approve"]
    assert moved["role"] == "clerk" and moved["display_name"] == ""  # untouched
    assert catalog.session_actor(staff.cookies["clerk"]) is not None
    await json_of(await client.patch(url, headers=admin(staff), json={"password": NEW_PASSWORD}),
                  200)
    assert catalog.session_actor(staff.cookies["clerk"]) is None  # a new password signs out
    with pytest.raises(InvalidLogin):
        catalog.authenticate("clerk.li", PASSWORD, ip="")
    disabled = await json_of(await client.patch(url, headers=admin(staff),
                                                json={"disabled": True}), 200)
    assert disabled["disabled"] and disabled["disabled_at"]
    token = await client.get("/api/v1/accounts", headers={
        "Authorization": f"Bearer {staff.tokens['clerk']}"})
    assert token.status == 401  # a disabled account's tokens stop at once
    entries = catalog.audit_entries(AuditQuery(action="account.update"))
    assert len(entries) == 3 and '"password_changed": true' in entries[1].details


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"username": "clerk.li", "role": "clerk", "password": NEW_PASSWORD}, 409, "username"),
    ({"username": "clerk.x", "role": "judge", "password": NEW_PASSWORD}, 400, "role"),
    ({"username": "clerk.x", "role": "clerk", "password": "short"}, 400, "password"),
    ({"username": "clerk.x", "role": "clerk"}, 400, "password"),
    ({"username": "clerk.x", "role": "clerk", "password": NEW_PASSWORD, "court_ids": "1"},
     400, "court_ids"),
    ({"username": "clerk.x", "role": "clerk", "password": NEW_PASSWORD, "court_ids": [424242]},
     404, "court_ids"),
])
async def test_refused_accounts_are_not_made(
    client: Client, catalog: Catalog, staff: Staff, body: dict[str, Any], status: int,
    field: str
) -> None:
    before = len(catalog.accounts())
    error = (await json_of(await client.post("/api/v1/accounts", headers=admin(staff),
                                             json=body), status))["error"]
    assert error["field"] == field
    assert len(catalog.accounts()) == before
    assert catalog.audit_entries(AuditQuery(action="account.create")) == []


async def test_no_administrator_locks_themselves_out(
    client: Client, catalog: Catalog, staff: Staff
) -> None:
    url = f"/api/v1/accounts/{staff.admin}"
    for change in ({"disabled": True}, {"role": "clerk"}):
        response = await client.patch(url, headers=admin(staff), json=change)
        assert "own account" in (await json_of(response, 409))["error"]["message"]
    builtin = catalog.builtin_admin().id
    response = await client.patch(f"/api/v1/accounts/{builtin}", headers=admin(staff),
                                  json={"password": NEW_PASSWORD})
    assert "built-in" in (await json_of(response, 409))["error"]["message"]
    assert catalog.builtin_admin().password_hash == ""
    missing = await client.patch("/api/v1/accounts/987654", headers=admin(staff),
                                 json={"display_name": "x"})
    await json_of(missing, 404)
    assert catalog.audit_entries(AuditQuery(action="account.update")) == []


async def test_reading_accounts_is_for_administrators(client: Client, staff: Staff) -> None:
    assert (await client.get("/api/v1/accounts")).status == 401
    clerk = {"Authorization": f"Bearer {staff.tokens['clerk']}"}
    assert (await client.get("/api/v1/accounts", headers=clerk)).status == 403
    assert (await client.get(f"/api/v1/accounts/{staff.clerk}", headers=clerk)).status == 403
