"""Pages every staff member uses: sign-in, sign-out, and their own API tokens."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from aiohttp import web

from courtcast.catalog.service import (
    Actor,
    CatalogError,
    InvalidLogin,
    SignedIn,
    Throttled,
)
from courtcast.web.actions import Who, audit
from courtcast.web.context import client_ip, services
from courtcast.web.errors import PageError
from courtcast.web.render import render
from courtcast.web.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Form,
    check_origin,
    checked_form,
    new_login_token,
    require_staff,
    safe_next,
    same_token,
    set_cookie,
    signed_in,
    start_session,
)
from courtcast.web.wire import MAX_ID

LOGIN_FORM_SECONDS = 3600


def render_staff(
    request: web.Request, signed: SignedIn, name: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A staff page: never cached, never framed (its buttons must not be clickjacked)."""
    response = render(
        request, name, status=status, actor=signed.actor, csrf_token=signed.csrf_token, **context
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] += "; frame-ancestors 'none'"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def see_other(location: str) -> web.Response:
    """A 303 redirect as a plain response, so cookies can be set on it."""
    return web.Response(status=303, headers={"Location": location})


def who_of(request: web.Request, signed: SignedIn) -> Who:
    return Who(signed.actor, client_ip(request))


def text_field(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def int_field(form: Form, name: str) -> int | None:
    value = text_field(form, name)
    return int(value) if value.isdigit() and int(value) <= MAX_ID else None


def page_id(request: web.Request, name: str = "id") -> int:
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


# --- sign-in --------------------------------------------------------------------------------


def _login_page(
    request: web.Request, *, error: str = "", status: int = 200, username: str = ""
) -> web.Response:
    token = new_login_token()
    response = render(
        request, "login.html", status=status, login_token=token, error=error,
        username=username, next=safe_next(request.query.get("next")),
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] += "; frame-ancestors 'none'"
    # Strict and only for /login: the token never travels anywhere else.
    set_cookie(response, request, LOGIN_COOKIE, token, max_age=LOGIN_FORM_SECONDS,
               samesite="Strict", path="/login")
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    if await signed_in(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    form = await request.post()
    if not same_token(form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE, "")):
        raise PageError(403, "csrf")
    username = text_field(form, "username")
    password = form.get("password", "")
    svc, ip = services(request), client_ip(request)
    check = partial(svc.catalog.authenticate, username, str(password), ip=ip)
    try:
        actor = await asyncio.to_thread(check)
    except Throttled as exc:
        raise PageError(429, "throttled", headers={"Retry-After": str(exc.retry_after)}) from None
    except InvalidLogin:
        record = partial(svc.catalog.record_audit, "login.failed", None, ip=ip,
                         actor_name="anonymous", details={"username": username[:100]})
        await asyncio.to_thread(record)
        return _login_page(request, error="invalid", status=401, username=username)
    return await _signed_in_response(request, actor, form)


async def _signed_in_response(request: web.Request, actor: Actor, form: Form) -> web.Response:
    svc, ip = services(request), client_ip(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await asyncio.to_thread(svc.catalog.close_session, old)
    cookie = await asyncio.to_thread(partial(svc.catalog.open_session, actor.account_id, ip=ip))
    await audit(svc, Who(actor, ip), "login")
    response = see_other(safe_next(form.get("next")))
    start_session(response, request, cookie)
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    signed = await require_staff(request)
    await checked_form(request, signed)
    svc = services(request)
    await asyncio.to_thread(svc.catalog.close_session, request.cookies.get(SESSION_COOKIE, ""))
    await audit(svc, who_of(request, signed), "logout")
    response = see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --- my account -----------------------------------------------------------------------------


async def account_page(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    return await _account(request, signed)


async def _account(
    request: web.Request, signed: SignedIn, *, new_token: str = "", status: int = 200,
    password_error: str = "",
) -> web.Response:
    catalog = services(request).catalog
    tokens = await asyncio.to_thread(catalog.tokens, signed.actor.account_id)
    return render_staff(request, signed, "account.html", status=status, tokens=tokens,
                        new_token=new_token, password_error=password_error,
                        done=request.query.get("done", ""))


async def change_password(request: web.Request) -> web.StreamResponse:
    """The holder's own password: the current one first; every other session ends."""
    signed = await require_staff(request)
    form = await checked_form(request, signed)
    new = form.get("new_password", "")
    if not isinstance(new, str) or new != form.get("new_password_again"):
        return await _account(request, signed, status=400,
                              password_error="mismatch")
    svc, ip = services(request), client_ip(request)
    change = partial(svc.catalog.change_password, signed.actor.account_id,
                     str(form.get("current_password", "")), new, ip=ip)
    try:
        await asyncio.to_thread(change)
    except Throttled as exc:
        raise PageError(429, "throttled", headers={"Retry-After": str(exc.retry_after)}) from None
    except InvalidLogin:
        await audit(svc, who_of(request, signed), "account.password_failed")
        return await _account(request, signed, status=403,
                              password_error="wrong")
    except CatalogError as exc:
        return await _account(request, signed, status=400, password_error=exc.message)
    await audit(svc, who_of(request, signed), "account.password")
    # The change ended every session, this one too: sign this browser in again.
    cookie = await asyncio.to_thread(partial(svc.catalog.open_session,
                                             signed.actor.account_id, ip=ip))
    response = see_other("/account?done=password")
    start_session(response, request, cookie)
    return response


async def create_token(request: web.Request) -> web.Response:
    signed = await require_staff(request)
    form = await checked_form(request, signed)
    catalog = services(request).catalog
    label = text_field(form, "label")[:200]
    create = partial(catalog.create_token, label=label, account_id=signed.actor.account_id)
    token = await asyncio.to_thread(create)
    await audit(services(request), who_of(request, signed), "token.create",
                details={"label": label})
    # Shown once, in this answer only (no redirect): only its hash is kept.
    return await _account(request, signed, new_token=token, status=201)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    signed = await require_staff(request)
    await checked_form(request, signed)
    token_id = page_id(request, "token_id")
    revoke = partial(services(request).catalog.revoke_token_id, token_id,
                     account_id=signed.actor.account_id)
    if not await asyncio.to_thread(revoke):
        raise web.HTTPNotFound()
    await audit(services(request), who_of(request, signed), "token.revoke",
                details={"token_id": token_id, "account_id": signed.actor.account_id})
    raise web.HTTPSeeOther("/account")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", login_form)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/account", account_page)
    r.add_post("/account/tokens", create_token)
    r.add_post("/account/password", change_password)
    r.add_post(r"/account/tokens/{token_id:\d+}/revoke", revoke_token)
