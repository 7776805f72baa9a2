"""Accounts in the JSON API, for administrators: a court's IT provisions clerks from its own
systems instead of the admin pages. The same actions (rights, self-lockout guard, audit) as
the pages, in `web/actions.py`. Password hashes never leave the catalog.

- `GET /api/v1/accounts`, `GET /api/v1/accounts/{id}`
- `POST /api/v1/accounts` {username, role, password, display_name?, court_ids?, can_approve?}
- `PATCH /api/v1/accounts/{id}` {role?, display_name?, court_ids?, can_approve?, disabled?,
  password?}: what is sent changes; a new password or disabling signs the account out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from courtcast.catalog.models import Account
from courtcast.web import actions
from courtcast.web.api import PREFIX, answer, who
from courtcast.web.authz import require
from courtcast.web.context import services
from courtcast.web.wire import iso, path_id, read_json_object


def account_json(account: Account, court_ids: list[int]) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role,
        "court_ids": court_ids,
        "can_approve": account.can_approve,
        "can_sign_in": bool(account.password_hash),
        "disabled": account.disabled_at is not None,
        "disabled_at": iso(account.disabled_at),
        "created_at": iso(account.created_at),
    }


async def _answer(request: web.Request, account: Account, *, status: int = 200) -> web.Response:
    account_id = int(account.id or 0)
    assigned = await asyncio.to_thread(services(request).catalog.account_court_ids, [account_id])
    return answer(account_json(account, assigned.get(account_id, [])), status=status)


async def list_accounts(request: web.Request) -> web.Response:
    require((await who(request)).actor, "account.manage")
    catalog = services(request).catalog

    def load() -> list[dict[str, Any]]:
        accounts = catalog.accounts()
        assigned = catalog.account_court_ids([int(a.id or 0) for a in accounts])
        return [account_json(a, assigned.get(int(a.id or 0), [])) for a in accounts]

    return answer({"items": await asyncio.to_thread(load)})


async def get_account(request: web.Request) -> web.Response:
    require((await who(request)).actor, "account.manage")
    account = await asyncio.to_thread(services(request).catalog.account, path_id(request))
    return await _answer(request, account)


async def create_account(request: web.Request) -> web.Response:
    caller = await who(request)
    body = await read_json_object(request)
    account = await actions.create_account(
        services(request), caller,
        username=body.text("username"),
        role=body.text("role"),
        password=body.text("password"),
        display_name=body.text("display_name", required=False),
        court_ids=body.optional_ids("court_ids") or [],
        can_approve=body.flag("can_approve", default=False),
    )
    return await _answer(request, account, status=201)


async def update_account(request: web.Request) -> web.Response:
    caller = await who(request)
    account_id = path_id(request)
    body = await read_json_object(request)
    account = await actions.update_account(
        services(request), caller, account_id,
        role=body.optional_text("role"),
        display_name=body.optional_text("display_name"),
        court_ids=body.optional_ids("court_ids"),
        can_approve=body.optional_flag("can_approve"),
        disabled=body.optional_flag("disabled"),
        password=body.optional_text("password"),
    )
    return await _answer(request, account)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/accounts", list_accounts)
    r.add_post(f"{PREFIX}/accounts", create_account)
    r.add_get(PREFIX + r"/accounts/{id:\d+}", get_account)
    r.add_patch(PREFIX + r"/accounts/{id:\d+}", update_account)
