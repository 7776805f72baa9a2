"""One middleware shapes every failure: JSON under /api/, an HTML page for portal paths.

API clients must never see an HTML page or a stack trace (interface.md), whatever failed:
an unknown route, a wrong method, bad input, a catalog rule or a bug.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from courtcast.catalog.service import CatalogError
from courtcast.web.authz import Denied
from courtcast.web.render import render
from courtcast.web.wire import ApiError

log = logging.getLogger(__name__)

CATALOG_STATUS = {
    "not_found": 404,
    "conflict": 409,
    "restricted": 409,
    "invalid": 400,
    "invalid_login": 401,
    "throttled": 429,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
# Paths that keep aiohttp's plain answers: files, where an HTML page would be noise.
PLAIN_PREFIXES = ("/static/", "/media/", "/record/")


class PageError(Exception):
    """A portal page answers with the error page: `kind` picks its text (see error.html)."""

    def __init__(
        self, status: int, kind: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind
        self.headers = dict(headers or {})


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error: dict[str, str] = {"code": code, "message": message}
    if field:
        error["field"] = field
    body = json.dumps({"error": error}, ensure_ascii=False)
    response = web.Response(text=body, status=status, content_type="application/json")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no API resource at {request.path}"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    return exc.reason


async def _api(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers)
    except Denied as exc:
        return json_error(403, "forbidden", exc.message)
    except CatalogError as exc:
        status = CATALOG_STATUS.get(exc.code, 400)
        return json_error(status, exc.code, exc.message, field=exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, f"http_{exc.status}")
        kept = {k: v for k in KEPT_HEADERS if (v := exc.headers.get(k)) is not None}
        return json_error(exc.status, code, _http_message(request, exc), headers=kept)
    except Exception:
        log.exception("API request failed: %s %s", request.method, request.path)
        return json_error(500, "internal", "internal server error")


def _error_page(
    request: web.Request, status: int, kind: str = "", headers: Mapping[str, str] | None = None
) -> web.StreamResponse:
    response = render(request, "error.html", status=status, status_code=status, kind=kind)
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


async def _portal(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status not in (400, 403, 404, 405):
            raise
        return _error_page(request, exc.status)
    except PageError as exc:
        return _error_page(request, exc.status, exc.kind, exc.headers)
    except Denied:
        return _error_page(request, 403, "forbidden")
    except Exception as exc:
        if isinstance(exc, CatalogError) and exc.code in ("not_found", "invalid"):
            return _error_page(request, CATALOG_STATUS[exc.code])
        log.exception("page failed: %s %s", request.method, request.path)
        return _error_page(request, 500)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/api" or request.path.startswith("/api/"):
        return await _api(request, handler)
    if request.path.startswith(PLAIN_PREFIXES):
        return await handler(request)
    return await _portal(request, handler)
