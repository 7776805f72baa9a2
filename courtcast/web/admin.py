"""Administrators' pages: accounts (create, assign courts, approval right, disable, tokens),
court settings (retention, default profile, timestamp overlay) and the audit log with CSV export.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from aiohttp import web

from courtcast.catalog.models import Account, AuditEntry, Court, Profile, Role
from courtcast.catalog.service import AuditQuery, CatalogError, Invalid, SignedIn
from courtcast.web import actions
from courtcast.web.authz import require
from courtcast.web.context import services
from courtcast.web.render import DISPLAY_ZONE
from courtcast.web.session import Form, checked_form, require_staff
from courtcast.web.staff import page_id, render_staff, see_other, text_field, who_of
from courtcast.web.wire import iso

AUDIT_PAGE = 100
CSV_COLUMNS = ("id", "at", "actor", "account_id", "action", "ip", "court_id", "case_id",
               "hearing_id", "details")
ERROR_STATUS = {"not_found": 404, "invalid": 400}


async def _admin(request: web.Request) -> SignedIn:
    signed = await require_staff(request)
    require(signed.actor, "account.manage")
    return signed


def _court_ids(form: Form) -> list[int]:
    return [int(v) for v in form.getall("court_ids", []) if isinstance(v, str) and v.isdigit()]


# --- accounts -------------------------------------------------------------------------------


async def accounts_page(request: web.Request) -> web.Response:
    signed = await _admin(request)
    return await _accounts(request, signed)


async def _accounts(
    request: web.Request, signed: SignedIn, *, error: str = "", status: int = 200,
    values: dict[str, Any] | None = None,
) -> web.Response:
    catalog = services(request).catalog

    def load() -> tuple[list[Account], dict[int, list[int]], list[Court]]:
        accounts = catalog.accounts()
        return accounts, catalog.account_court_ids(a.id or 0 for a in accounts), catalog.courts()

    accounts, assigned, courts = await asyncio.to_thread(load)
    return render_staff(
        request, signed, "admin_accounts.html", status=status, accounts=accounts,
        assigned=assigned, courts={c.id: c for c in courts}, roles=[r.value for r in Role],
        error=error, values=values or {"role": Role.CLERK.value},
    )


async def create_account(request: web.Request) -> web.Response:
    signed = await _admin(request)
    form = await checked_form(request, signed)
    fields: dict[str, Any] = {
        "username": text_field(form, "username"),
        "role": text_field(form, "role"),
        "display_name": text_field(form, "display_name"),
        "court_ids": _court_ids(form),
        "can_approve": form.get("can_approve") == "on",
    }
    password = form.get("password")
    try:
        account = await actions.create_account(services(request), who_of(request, signed),
                                               password=str(password or ""), **fields)
    except CatalogError as exc:
        return await _accounts(request, signed, error=exc.message, values=fields,
                               status=ERROR_STATUS.get(exc.code, 409))
    return see_other(f"/admin/accounts/{account.id}?done=create")


async def account_page(request: web.Request) -> web.Response:
    signed = await _admin(request)
    return await _account(request, signed, page_id(request))


async def _account(
    request: web.Request, signed: SignedIn, account_id: int, *, error: str = "",
    status: int = 200,
) -> web.Response:
    catalog = services(request).catalog

    def load() -> dict[str, Any]:
        return {
            "account": catalog.account(account_id),
            "assigned": catalog.account_court_ids([account_id])[account_id],
            "tokens": catalog.tokens(account_id),
            "courts": catalog.courts(),
        }

    return render_staff(
        request, signed, "admin_account.html", status=status, roles=[r.value for r in Role],
        error=error, done=request.query.get("done", ""), **await asyncio.to_thread(load),
    )


async def update_account(request: web.Request) -> web.Response:
    signed = await _admin(request)
    form = await checked_form(request, signed)
    account_id = page_id(request)
    password = form.get("password")
    changes: dict[str, Any] = {
        "role": text_field(form, "role"),
        "display_name": text_field(form, "display_name"),
        "court_ids": _court_ids(form),
        "can_approve": form.get("can_approve") == "on",
        "disabled": form.get("disabled") == "on",
    }
    try:
        await actions.update_account(services(request), who_of(request, signed), account_id,
                                     password=str(password) if password else None, **changes)
    except CatalogError as exc:
        if exc.code == "not_found" and exc.field is None:
            raise
        return await _account(request, signed, account_id, error=exc.message,
                              status=ERROR_STATUS.get(exc.code, 409))
    return see_other(f"/admin/accounts/{account_id}?done=update")


async def revoke_token(request: web.Request) -> web.Response:
    signed = await _admin(request)
    await checked_form(request, signed)
    account_id, token_id = page_id(request), page_id(request, "token_id")
    revoke = partial(services(request).catalog.revoke_token_id, token_id, account_id=account_id)
    if not await asyncio.to_thread(revoke):
        raise web.HTTPNotFound()
    await actions.audit(services(request), who_of(request, signed), "token.revoke",
                        details={"token_id": token_id, "account_id": account_id})
    return see_other(f"/admin/accounts/{account_id}?done=revoke")


# --- court settings -------------------------------------------------------------------------


async def courts_page(request: web.Request) -> web.Response:
    signed = await _admin(request)
    courts = await asyncio.to_thread(services(request).catalog.courts)
    return render_staff(request, signed, "admin_courts.html", courts=courts,
                        profiles=[p.value for p in Profile], done=request.query.get("done", ""),
                        error="")


async def update_court(request: web.Request) -> web.Response:
    signed = await _admin(request)
    form = await checked_form(request, signed)
    court_id = page_id(request)
    retention = text_field(form, "retention_days")
    try:
        if retention and not retention.isdigit():
            raise Invalid("retention_days must be a whole number of days", field="retention_days")
        await actions.update_court(
            services(request), who_of(request, signed), court_id,
            retention_days=int(retention) if retention else None,
            default_profile=text_field(form, "default_profile") or None,
            timestamp_overlay=form.get("timestamp_overlay") == "on",
        )
    except CatalogError as exc:
        if exc.code == "not_found":
            raise
        courts = await asyncio.to_thread(services(request).catalog.courts)
        return render_staff(request, signed, "admin_courts.html", status=400, courts=courts,
                            profiles=[p.value for p in Profile], done="", error=exc.message)
    return see_other(f"/admin/courts?done={court_id}")


# --- audit log ------------------------------------------------------------------------------


def _day(text: str, field: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid(f"{field}: not a date (YYYY-MM-DD): {text!r}", field=field) from None


def audit_query(request: web.Request) -> AuditQuery:
    """The log's filters from the query string; dates are court-local days, `to` inclusive."""
    q = request.query
    start, end = _day(q.get("from", ""), "from"), _day(q.get("to", ""), "to")

    def number(name: str) -> int | None:
        value = q.get(name, "")
        return int(value) if value.isdigit() and len(value) < 19 else None

    return AuditQuery(
        actor=q.get("actor") or None,
        action=q.get("action") or None,
        court_id=number("court_id"),
        hearing_id=number("hearing_id"),
        case_id=number("case_id"),
        start=datetime.combine(start, time(), DISPLAY_ZONE) if start else None,
        end=datetime.combine(end + timedelta(days=1), time(), DISPLAY_ZONE) if end else None,
    )


async def audit_page(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    require(signed.actor, "audit.read")
    catalog = services(request).catalog
    text = request.query.get("page", "1")
    page = int(text) if text.isdigit() and 0 < int(text) < 10**6 else 1
    error = ""
    try:
        query = audit_query(request)
    except Invalid as exc:
        query, error = AuditQuery(), exc.message
    entries = await asyncio.to_thread(
        partial(catalog.audit_entries, query, limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE))
    known = await asyncio.to_thread(catalog.audit_actions)
    def page_url(number: int) -> str:
        return str(request.rel_url.update_query(page=str(number)))

    return render_staff(
        request, signed, "admin_audit.html", entries=entries[:AUDIT_PAGE], error=error,
        newer=page_url(page - 1) if page > 1 else "",
        older=page_url(page + 1) if len(entries) > AUDIT_PAGE else "",
        actions=known, filters=dict(request.query), query_string=request.query_string,
    )


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_row(entry: AuditEntry) -> list[str]:
    details = json.loads(entry.details or "{}")
    row: list[object] = [entry.id, iso(entry.at), entry.actor, entry.account_id, entry.action,
                         entry.ip, entry.court_id, entry.case_id, entry.hearing_id,
                         json.dumps(details, ensure_ascii=False, sort_keys=True)]
    return [_cell(value) for value in row]


async def audit_csv(request: web.Request) -> web.StreamResponse:
    signed = await require_staff(request)
    require(signed.actor, "audit.read")
    query = audit_query(request)
    await actions.audit(services(request), who_of(request, signed), "audit.export",
                        details={"query": dict(request.query)})
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="courtcast-audit.csv"',
        "Cache-Control": "private, no-store",
    })
    await response.prepare(request)
    entries = services(request).catalog.iter_audit(query)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
    writer.writerow(CSV_COLUMNS)
    while batch := await asyncio.to_thread(_next_rows, entries, 500):
        for entry in batch:
            writer.writerow(_csv_row(entry))
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


def _next_rows(entries: Any, count: int) -> list[AuditEntry]:
    rows: list[AuditEntry] = []
    for entry in entries:
        rows.append(entry)
        if len(rows) == count:
            break
    return rows


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin/accounts", accounts_page)
    r.add_post("/admin/accounts", create_account)
    r.add_get(r"/admin/accounts/{id:\d+}", account_page)
    r.add_post(r"/admin/accounts/{id:\d+}", update_account)
    r.add_post(r"/admin/accounts/{id:\d+}/tokens/{token_id:\d+}/revoke", revoke_token)
    r.add_get("/admin/courts", courts_page)
    r.add_post(r"/admin/courts/{id:\d+}", update_court)
    r.add_get("/admin/audit", audit_page)
    r.add_get("/admin/audit.csv", audit_csv)
