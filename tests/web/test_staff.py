"""Sign-in, sessions, their cookies, sign-out and a staff member's own tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from courtcast.catalog import accounts
from courtcast.catalog.service import AuditQuery, Catalog
from tests.web.conftest import PASSWORD, Seed, Staff

Client = TestClient[Any, Any]


async def login_token(client: Client) -> str:
    response = await client.get("/login")
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert match
    return match.group(1)


async def sign_in(
    client: Client, username: str, password: str, *, next_page: str = "", **headers: str
) -> Any:
    form = {"csrf_token": await login_token(client), "username": username, "password": password,
            "next": next_page}
    return await client.post("/login", data=form, allow_redirects=False, headers=headers)


async def test_sign_in_sets_a_safe_session_cookie(
    client: Client, catalog: Catalog, staff: Staff
) -> None:
    response = await sign_in(client, "Clerk.Li", PASSWORD, next_page="/clerk/hearings/new")
    assert response.status == 303 and response.headers["Location"] == "/clerk/hearings/new"
    cookie = response.cookies["courtcast_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert cookie["path"] == "/"
    assert catalog.session_actor(cookie.value) is not None
    desk = await client.get("/clerk")  # the client's cookie jar sends it from now on
    assert desk.status == 200 and "clerk.li" in await desk.text()
    (entry,) = catalog.audit_entries(AuditQuery(action="login"))
    assert entry.actor == "clerk.li"


async def test_forwarded_proto_from_a_direct_client_is_ignored(
    client: Client, staff: Staff
) -> None:
    # Behind a trusted proxy the cookie is Secure: tests/web/test_proxy.py.
    response = await sign_in(client, "clerk.li", PASSWORD, **{"X-Forwarded-Proto": "https"})
    assert not response.cookies["courtcast_session"]["secure"]


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
async def test_next_never_leaves_the_site(client: Client, staff: Staff, target: str) -> None:
    response = await sign_in(client, "clerk.li", PASSWORD, next_page=target)
    assert response.headers["Location"] == "/clerk"


async def test_wrong_password(client: Client, catalog: Catalog, staff: Staff) -> None:
    response = await sign_in(client, "clerk.li", "not the password")
    assert response.status == 401
    assert "Wrong user name or password." in await response.text()
    assert "courtcast_session" not in response.cookies
    (entry,) = catalog.audit_entries(AuditQuery(action="login.failed"))
    assert entry.actor == "anonymous" and '"username": "clerk.li"' in entry.details


async def test_sign_in_is_throttled(client: Client, staff: Staff) -> None:
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        assert (await sign_in(client, "clerk.li", "a wrong guess")).status == 401
    response = await sign_in(client, "clerk.li", PASSWORD)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in await response.text()


async def test_sign_in_needs_its_form_token(client: Client, staff: Staff) -> None:
    form = {"csrf_token": "forged", "username": "clerk.li", "password": PASSWORD}
    response = await client.post("/login", data=form, allow_redirects=False)
    assert response.status == 403


async def test_sign_out(client: Client, catalog: Catalog, staff: Staff) -> None:
    response = await sign_in(client, "clerk.li", PASSWORD)
    cookie = response.cookies["courtcast_session"].value
    signed = catalog.session_actor(cookie)
    assert signed is not None
    out = await client.post("/logout", data={"csrf_token": signed.csrf_token},
                            allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/"
    assert catalog.session_actor(cookie) is None
    again = await client.get("/clerk", allow_redirects=False)
    assert again.status == 303


async def test_signed_in_visitors_skip_the_form(client: Client, staff: Staff) -> None:
    await sign_in(client, "clerk.li", PASSWORD)
    response = await client.get("/login?next=/account", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/account"


async def test_own_tokens_are_shown_once_and_revocable(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    headers = {"Cookie": f"courtcast_session={staff.cookies['clerk']}"}
    created = await client.post("/account/tokens", headers=headers,
                                data={"csrf_token": staff.csrf["clerk"], "label": "court script"})
    assert created.status == 201
    match = re.search(r'id="new-token" class="token-field" readonly value="(cc_[^"]+)"',
                      await created.text())
    assert match
    token = match.group(1)
    api = await client.get(f"/api/v1/hearings/{seed.private}",
                           headers={"Authorization": f"Bearer {token}"})
    assert api.status == 200  # the clerk's rights, for their court's hidden hearing
    page = await (await client.get("/account", headers=headers)).text()
    assert token not in page and "court script" in page
    token_id = catalog.tokens(staff.clerk)[0].id
    other = await client.post(f"/account/tokens/{catalog.tokens(staff.admin)[0].id}/revoke",
                              headers=headers, data={"csrf_token": staff.csrf["clerk"]},
                              allow_redirects=False)
    assert other.status == 404  # not theirs
    revoked = await client.post(f"/account/tokens/{token_id}/revoke", headers=headers,
                                data={"csrf_token": staff.csrf["clerk"]}, allow_redirects=False)
    assert revoked.status == 303
    gone = await client.get(f"/api/v1/hearings/{seed.private}",
                            headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401


NEW_PASSWORD = "a brand new long password"


async def change_password(client: Client, staff: Staff, current: str, new: str,
                          again: str | None = None) -> Any:
    return await client.post("/account/password", allow_redirects=False,
                             headers={"Cookie": f"courtcast_session={staff.cookies['clerk']}"},
                             data={"csrf_token": staff.csrf["clerk"], "current_password": current,
                                   "new_password": new, "new_password_again": again or new})


async def test_changing_ones_own_password(client: Client, catalog: Catalog,
                                          staff: Staff) -> None:
    other_browser = catalog.open_session(staff.clerk)
    response = await change_password(client, staff, PASSWORD, NEW_PASSWORD)
    assert response.status == 303 and response.headers["Location"] == "/account?done=password"
    # Every earlier session ends; this browser gets a new one.
    assert catalog.session_actor(staff.cookies["clerk"]) is None
    assert catalog.session_actor(other_browser) is None
    fresh = response.cookies["courtcast_session"]
    assert fresh["httponly"] and catalog.session_actor(fresh.value) is not None
    page = await (await client.get("/account?done=password")).text()
    assert "Your password is changed" in page
    client.session.cookie_jar.clear()  # signed out: try the passwords on the sign-in form
    assert (await sign_in(client, "clerk.li", PASSWORD)).status == 401
    assert (await sign_in(client, "clerk.li", NEW_PASSWORD)).status == 303
    (entry,) = catalog.audit_entries(AuditQuery(action="account.password"))
    assert entry.actor == "clerk.li"


@pytest.mark.parametrize(("current", "new", "again", "status", "message"), [
    ("a wrong guess!", NEW_PASSWORD, None, 403, "The current password is wrong."),
    (PASSWORD, NEW_PASSWORD, "something else entirely", 400, "The two new passwords differ."),
    (PASSWORD, "short", None, 400, "password must be 10 to 1024 characters"),
    (PASSWORD, PASSWORD, None, 400, "choose a password different from the current one"),
])
async def test_refused_password_changes_change_nothing(
    client: Client, catalog: Catalog, staff: Staff, current: str, new: str, again: str | None,
    status: int, message: str
) -> None:
    response = await change_password(client, staff, current, new, again)
    assert response.status == status
    assert message in await response.text()
    assert catalog.session_actor(staff.cookies["clerk"]) is not None  # still signed in
    assert (await sign_in(client, "clerk.li", PASSWORD)).status == 303


async def test_guessing_the_current_password_is_throttled(client: Client, catalog: Catalog,
                                                          staff: Staff) -> None:
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        assert (await change_password(client, staff, "a wrong guess!", NEW_PASSWORD)).status == 403
    refused = await change_password(client, staff, PASSWORD, NEW_PASSWORD)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert len(catalog.audit_entries(AuditQuery(action="account.password_failed"))) == \
        accounts.MAX_FAILURES_PER_USERNAME


async def test_a_password_change_needs_the_sessions_csrf_token(client: Client, catalog: Catalog,
                                                               staff: Staff) -> None:
    response = await client.post(
        "/account/password", allow_redirects=False,
        headers={"Cookie": f"courtcast_session={staff.cookies['clerk']}"},
        data={"csrf_token": "forged", "current_password": PASSWORD,
              "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert response.status == 403
    assert (await sign_in(client, "clerk.li", PASSWORD)).status == 303
