"""Portal sign-in: server-side sessions in the catalog, their cookie, and CSRF protection.

The session cookie holds a random value whose SHA-256 is the session's row id; it is HttpOnly,
SameSite=Lax and Secure behind https. Every form POST carries the session's CSRF token
(synchronizer token, compared in constant time) and must come from our own origin when the
browser says where it comes from. The sign-in form, before any session exists, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from urllib.parse import quote, urlparse

from aiohttp import web
from multidict import MultiDictProxy

from courtcast.catalog.accounts import SESSION_LIFETIME
from courtcast.catalog.service import SignedIn
from courtcast.web.context import services
from courtcast.web.errors import PageError

SESSION_COOKIE = "courtcast_session"
LOGIN_COOKIE = "courtcast_login"  # the sign-in form's double-submit CSRF token
CSRF_FIELD = "csrf_token"
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


def https(request: web.Request) -> bool:
    # One source of truth: courtcast.web.proxy has already made a trusted proxy's
    # X-Forwarded-Proto the scheme; a direct client's is ignored here as everywhere else.
    return request.secure


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    name: str,
    value: str,
    *,
    max_age: int,
    samesite: str = "Lax",
    path: str = "/",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite=samesite,
        secure=https(request),
    )


def start_session(response: web.StreamResponse, request: web.Request, cookie: str) -> None:
    max_age = int(SESSION_LIFETIME.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=max_age)


async def signed_in(request: web.Request) -> SignedIn | None:
    """The signed-in account of this request, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return await asyncio.to_thread(services(request).catalog.session_actor, cookie)


async def require_staff(request: web.Request) -> SignedIn:
    """The signed-in account; anyone else is sent to the sign-in page (and back after it)."""
    found = await signed_in(request)
    if found is None:
        target = request.path_qs if request.method == "GET" else "/clerk"
        raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")
    return found


def check_origin(request: web.Request) -> None:
    """A browser names the page a form was sent from: it must be one of ours (behind a trusted
    proxy `request.host` is the host it forwarded)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.host:
        raise PageError(403, "csrf")


def same_token(given: object, expected: str) -> bool:
    if not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


async def checked_form(request: web.Request, who: SignedIn) -> Form:
    """The POSTed form, once its origin and CSRF token are right (else a 403 page)."""
    check_origin(request)
    form = await request.post()
    if not same_token(form.get(CSRF_FIELD), who.csrf_token):
        raise PageError(403, "csrf")
    return form


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def safe_next(value: object, default: str = "/clerk") -> str:
    """Only a path on this site: `//evil.example` or `https://...` would be an open redirect."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 for ch in value):
        return default
    return value
