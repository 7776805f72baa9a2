"""Administrators' pages: accounts, court settings, the audit log and its CSV export."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from aiohttp.test_utils import TestClient

from courtcast.catalog.service import AuditQuery, Catalog
from tests.web.conftest import Seed, Staff

Client = TestClient[Any, Any]


def as_admin(staff: Staff) -> dict[str, str]:
    return {"Cookie": f"courtcast_session={staff.cookies['admin']}"}


async def post(client: Client, staff: Staff, path: str, status: int = 303, **form: Any) -> Any:
    response = await client.post(path, headers=as_admin(staff), allow_redirects=False,
                                 data={"csrf_token": staff.csrf["admin"], **form})
    assert response.status == status, (await response.text())[:2000]
    return response


async def test_create_assign_and_disable_an_account(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    response = await post(client, staff, "/admin/accounts", username="clerk.zhou", role="clerk",
                          password="a long enough password", court_ids=str(seed.court),
                          can_approve="on", display_name="周书记员")
    account = catalog.account_by_username("clerk.zhou")
    assert account is not None and account.can_approve
    assert response.headers["Location"] == f"/admin/accounts/{account.id}?done=create"
    assert catalog.account_court_ids([account.id or 0])[account.id or 0] == [seed.court]
    listing = await (await client.get("/admin/accounts", headers=as_admin(staff))).text()
    assert "clerk.zhou" in listing and "builtin-admin" not in listing
    token = catalog.create_token(account_id=account.id)
    await post(client, staff, f"/admin/accounts/{account.id}", role="clerk",
               court_ids=str(seed.child_court), disabled="on")
    assert catalog.account_court_ids([account.id or 0])[account.id or 0] == [seed.child_court]
    assert catalog.token_actor(token) is None  # disabled: its token stops at once
    (entry,) = catalog.audit_entries(AuditQuery(action="account.update"))
    assert '"disabled": true' in entry.details and "password" not in entry.details.replace(
        '"password_changed": false', "")


async def test_account_form_errors(client: Client, staff: Staff) -> None:
    response = await post(client, staff, "/admin/accounts", status=400, username="x y",
                          role="clerk", password="a long enough password")
    assert "username must be" in await response.text()
    response = await post(client, staff, "/admin/accounts", status=409, username="clerk.li",
                          role="clerk", password="a long enough password")
    assert "exists already" in await response.text()


async def test_administrators_cannot_lock_themselves_out(
    client: Client, catalog: Catalog, staff: Staff
) -> None:
    response = await post(client, staff, f"/admin/accounts/{staff.admin}", status=409,
                          role="admin", disabled="on")
    assert "your own account" in await response.text()
    assert catalog.account(staff.admin).disabled_at is None


async def test_admin_revokes_a_token(client: Client, catalog: Catalog, staff: Staff) -> None:
    (token,) = catalog.tokens(staff.clerk)
    await post(client, staff, f"/admin/accounts/{staff.clerk}/tokens/{token.id}/revoke")
    assert catalog.token_actor(staff.tokens["clerk"]) is None
    await post(client, staff, f"/admin/accounts/{staff.admin}/tokens/{token.id}/revoke",
               status=404)


async def test_court_settings(client: Client, catalog: Catalog, seed: Seed, staff: Staff) -> None:
    await post(client, staff, f"/admin/courts/{seed.court}", retention_days="365",
               default_profile="ladder", timestamp_overlay="on")
    court = catalog.court(seed.court)
    assert (court.retention_days, court.default_profile, court.timestamp_overlay) == (
        365, "ladder", True)
    await post(client, staff, f"/admin/courts/{seed.court}", retention_days="",
               default_profile="")
    court = catalog.court(seed.court)
    assert (court.retention_days, court.default_profile, court.timestamp_overlay) == (
        None, None, False)
    response = await post(client, staff, f"/admin/courts/{seed.court}", status=400,
                          retention_days="forever")
    assert "retention_days" in await response.text()


async def entries(client: Client, staff: Staff, query: str) -> str:
    """The table of entries on the audit page for `query`."""
    html = await (await client.get(f"/admin/audit?{query}", headers=as_admin(staff))).text()
    match = re.search(r'<table class="staff-table" id="audit-entries">(.*?)</table>', html, re.S)
    assert match, html[-2000:]
    return match.group(1)


async def test_audit_log_page_and_filters(
    client: Client, catalog: Catalog, seed: Seed, staff: Staff
) -> None:
    clerk = catalog.actor(staff.clerk)
    catalog.record_audit("hearing.cut", clerk, ip="10.1.2.3", court_id=seed.court,
                         hearing_id=seed.live, details={"from": "live"})
    catalog.record_audit("hearing.end", None, hearing_id=seed.ended)
    page = await entries(client, staff, "actor=clerk.li")
    assert "hearing.cut" in page and "10.1.2.3" in page and "hearing.end" not in page
    page = await entries(client, staff, f"hearing_id={seed.ended}")
    assert "hearing.end" in page and "hearing.cut" not in page
    bad = await client.get("/admin/audit?from=yesterday", headers=as_admin(staff))
    assert bad.status == 200 and "not a date" in await bad.text()


async def test_audit_csv_export(client: Client, catalog: Catalog, seed: Seed, staff: Staff) -> None:
    clerk = catalog.actor(staff.clerk)
    catalog.record_audit("hearing.withdraw", clerk, ip="10.1.2.3", hearing_id=seed.ended,
                         details={"reason": "=HYPERLINK(\"http://evil\")"})
    catalog.record_audit("hearing.cut", clerk, hearing_id=seed.live)
    response = await client.get("/admin/audit.csv?action=hearing.withdraw",
                                headers=as_admin(staff))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["action"] for row in rows] == ["hearing.withdraw"]
    row = rows[0]
    assert (row["actor"], row["ip"], row["hearing_id"]) == ("clerk.li", "10.1.2.3",
                                                             str(seed.ended))
    assert row["at"].endswith("+00:00") and "HYPERLINK" in row["details"]
    # The export itself is on record.
    (export,) = catalog.audit_entries(AuditQuery(action="audit.export"))
    assert export.actor == "admin.zhao"


async def test_csv_cells_never_start_a_formula(
    client: Client, catalog: Catalog, staff: Staff
) -> None:
    catalog.record_audit("login.failed", None, actor_name="=cmd|' /C calc'!A0")
    text = (await (await client.get("/admin/audit.csv", headers=as_admin(staff))).read()).decode(
        "utf-8-sig")
    (row,) = [r for r in csv.DictReader(io.StringIO(text)) if r["action"] == "login.failed"]
    assert row["actor"].startswith("'=")
