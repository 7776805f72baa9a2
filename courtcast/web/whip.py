"""WHIP ingest and WHEP monitoring over HTTP (RFC 9725), and the clerks' pages that use them.

- `POST /api/v1/hearings/{id}/whip` (`Authorization: Bearer STREAM_KEY`, an SDP offer) answers
  201 with the SDP answer, `Location` (the session, for `DELETE`) and `ETag`;
- `POST /api/v1/hearings/{id}/whep` starts a monitor: with the stream key, an API token of an
  account that may monitor the hearing's court, or (the monitor page) such an account's session;
- `/hearings/{id}/publish` and `/hearings/{id}/monitor` are the browser pages, for the court's
  signed-in clerks and administrators.

A court's own web page may publish: every answer carries CORS headers (bearer tokens, no
cookies, so any origin is safe) and OPTIONS answers the preflight. Trickle ICE and ICE restarts
(PATCH) are not offered: clients send complete offers, which browsers and OBS do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

from aiohttp import web

from courtcast.catalog.service import Actor, CatalogError, HearingView
from courtcast.ingest.publish import PublishRefused
from courtcast.ingest.whip.gateway import Answer, GatewayError, WebRtcGateway
from courtcast.ingest.whip.sdp import MAX_SDP_BYTES, SdpError
from courtcast.web.authz import RULES, allowed, require
from courtcast.web.context import services
from courtcast.web.errors import PageError, json_error
from courtcast.web.session import check_origin, require_staff, signed_in
from courtcast.web.staff import render_staff
from courtcast.web.wire import MAX_ID, ApiError, path_id

API = r"/api/v1/hearings/{id:\d+}"
SDP_TYPE: Final = "application/sdp"
CODECS: Final = ("auto", "h264", "vp8", "vp9")
CORS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
}
_REFUSAL_STATUS: Final = {"unknown_key": 401, "busy": 409}
_GATEWAY_STATUS: Final = {GatewayError.NOT_LIVE: 409, GatewayError.FULL: 503,
                          GatewayError.UNAVAILABLE: 503}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message,
                    headers={"WWW-Authenticate": 'Bearer realm="courtcast"'})


def _gateway(request: web.Request) -> WebRtcGateway:
    gateway = services(request).webrtc
    if gateway is None:
        raise ApiError(503, "unavailable", "WebRTC is not enabled on this server")
    return gateway


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send the stream key as 'Authorization: Bearer STREAM_KEY'")
    return token.strip()


async def _offer(request: web.Request) -> bytes:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != SDP_TYPE:
        raise ApiError(415, "unsupported_media_type",
                       f"the offer must be sent as Content-Type: {SDP_TYPE}")
    body = await request.content.read(MAX_SDP_BYTES + 1)
    if len(body) > MAX_SDP_BYTES:
        raise ApiError(413, "too_large", f"the SDP offer is larger than {MAX_SDP_BYTES} bytes")
    if not body.strip():
        raise ApiError(400, "bad_sdp", "the request has no SDP offer")
    return body


async def _hearing_view(request: web.Request, hearing_id: int) -> HearingView | None:
    def load() -> HearingView | None:
        try:
            return services(request).catalog.hearing_view(hearing_id)
        except CatalogError:
            return None

    return await asyncio.to_thread(load)


def _is_stream_key(view: HearingView | None, token: str) -> bool:
    """`token` is the hearing's stream key (compared in constant time)."""
    key = view.hearing.stream_key if view is not None else ""
    return bool(key) and hmac.compare_digest(key.encode(), token.encode())


def _created(request: web.Request, answer: Answer, links: list[str]) -> web.Response:
    response = web.Response(status=201, text=answer.sdp, content_type=SDP_TYPE)
    response.headers["Location"] = f"{request.path}/{answer.session_id}"
    response.headers["ETag"] = answer.etag
    response.headers["Cache-Control"] = "no-store"
    for link in links:
        response.headers.add("Link", link)
    return response


@contextlib.contextmanager
def _as_http_errors() -> Iterator[None]:
    """What the gateway refuses, as RFC 9725 status codes."""
    try:
        yield
    except SdpError as exc:
        raise ApiError(400, "bad_sdp", str(exc)) from exc
    except PublishRefused as exc:
        raise ApiError(_REFUSAL_STATUS.get(exc.code, 403), exc.code, exc.message) from exc
    except GatewayError as exc:
        retry = {"Retry-After": "30"} if exc.code == GatewayError.FULL else {}
        raise ApiError(_GATEWAY_STATUS.get(exc.code, 400), exc.code, exc.message,
                       headers=retry) from exc


# --- WHIP ----------------------------------------------------------------------------------------


async def whip_post(request: web.Request) -> web.StreamResponse:
    hearing_id = path_id(request)
    gateway = _gateway(request)
    key = _bearer(request)
    body = await _offer(request)
    # Unknown hearing and wrong key look alike: the answer must not reveal which hearings exist.
    if not _is_stream_key(await _hearing_view(request, hearing_id), key):
        raise _unauthorized(f"this is not the stream key of hearing {hearing_id}")
    with _as_http_errors():
        answer = await gateway.publish(hearing_id, key, request.remote or "?", body)
    return _created(request, answer, gateway.settings.ice.link_headers())


async def whip_delete(request: web.Request) -> web.StreamResponse:
    gateway = _gateway(request)
    if not await gateway.unpublish(path_id(request), request.match_info["session"]):
        raise ApiError(404, "not_found", "no such WHIP session (it may have ended already)")
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


# --- WHEP ----------------------------------------------------------------------------------------


async def _monitoring_actor(request: web.Request, view: HearingView | None) -> Actor | None:
    """Who asks to monitor, or None when the hearing's own stream key was sent.

    A bearer token is the stream key or an API token; without one, the signed-in session
    counts, but only from our own pages (fetch sends the cookie same-origin, SameSite=Lax
    keeps it off other sites' requests, and the Origin check refuses the rest).
    """
    if "Authorization" in request.headers:
        token = _bearer(request)
        if _is_stream_key(view, token):
            return None
        actor = await asyncio.to_thread(services(request).catalog.token_actor, token)
    else:
        found = await signed_in(request)
        actor = found.actor if found is not None else None
        if actor is not None:
            try:
                check_origin(request)
            except PageError:
                raise ApiError(403, "forbidden", "monitoring with a session must come from "
                               "this portal's own pages") from None
    if actor is None:
        raise _unauthorized("monitoring needs a signed-in clerk of the court, the hearing's "
                            "stream key or an API token of the court's clerks")
    return actor


async def _may_monitor(request: web.Request, hearing_id: int) -> None:
    view = await _hearing_view(request, hearing_id)
    actor = await _monitoring_actor(request, view)
    if actor is None:
        return  # the stream key: whoever holds it may publish, so may watch
    if view is None:
        raise ApiError(404, "not_found", f"hearing {hearing_id} does not exist")
    if not allowed(actor, "hearing.monitor", view.court.id):
        raise ApiError(403, "forbidden", f"{actor.username} may not monitor the hearings of "
                       f"court {view.court.id}: {RULES['hearing.monitor'].value} may")


async def whep_post(request: web.Request) -> web.StreamResponse:
    hearing_id = path_id(request)
    gateway = _gateway(request)
    body = await _offer(request)
    await _may_monitor(request, hearing_id)
    with _as_http_errors():
        answer = await gateway.play(hearing_id, request.remote or "?", body)
    return _created(request, answer, gateway.settings.ice.link_headers())


async def whep_delete(request: web.Request) -> web.StreamResponse:
    gateway = _gateway(request)
    if not await gateway.stop_playing(path_id(request), request.match_info["session"]):
        raise ApiError(404, "not_found", "no such WHEP session (it may have ended already)")
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


# --- method dispatch and CORS -------------------------------------------------------------------


async def _no_trickle(_request: web.Request) -> web.StreamResponse:
    raise ApiError(405, "method_not_allowed", "trickle ICE and ICE restarts are not supported: "
                   "send a complete offer in a new POST", headers={"Allow": "DELETE, OPTIONS"})


def _resource(methods: dict[str, Handler]) -> Handler:
    """One handler for every method of a resource: dispatch, 405 with Allow, CORS, errors."""
    allow = ", ".join([*(m for m in methods if m != "PATCH"), "OPTIONS"])

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            if request.method == "OPTIONS":
                response: web.StreamResponse = web.Response(status=204, headers={
                    "Allow": allow, "Accept-Post": SDP_TYPE,
                    "Access-Control-Allow-Methods": allow,
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
                    "Access-Control-Max-Age": "600"})
            elif request.method in methods:
                response = await methods[request.method](request)
            else:
                raise ApiError(405, "method_not_allowed",
                               f"{request.method} is not allowed here", headers={"Allow": allow})
        except ApiError as exc:
            response = json_error(exc.status, exc.code, exc.message, headers=exc.headers)
        response.headers.update(CORS)
        return response

    return handle


# --- pages ---------------------------------------------------------------------------------------


async def _page_view(request: web.Request) -> HearingView:
    hearing_id = int(request.match_info["id"])
    if hearing_id > MAX_ID:
        raise web.HTTPNotFound()
    return await asyncio.to_thread(services(request).catalog.hearing_view, hearing_id)


def _page(template: str, protocol: str, action: str) -> Handler:
    """The publish or monitor page, for those who may `action` on the hearing's court.

    The publish page carries the stream key (the clerk's hearing page shows it too), so the
    clerk never types it; the monitor page needs no secret: its WHEP request is signed in.
    """

    async def page(request: web.Request) -> web.StreamResponse:
        signed = await require_staff(request)
        view = await _page_view(request)
        require(signed.actor, action, view.court.id)
        codec = request.query.get("codec", "auto").lower()
        publishing = action == "hearing.publish"
        return render_staff(
            request, signed, template, view=view, hearing_id=view.hearing.id,
            title=view.case.title, codec=codec if codec in CODECS else "auto", codecs=CODECS,
            endpoint=f"/api/v1/hearings/{view.hearing.id}/{protocol}",
            stream_key=view.hearing.stream_key if publishing else "")

    return page


def setup(app: web.Application) -> None:
    r = app.router
    r.add_route("*", f"{API}/whip", _resource({"POST": whip_post}))
    r.add_route("*", f"{API}/whip/{{session}}",
                _resource({"DELETE": whip_delete, "PATCH": _no_trickle}))
    r.add_route("*", f"{API}/whep", _resource({"POST": whep_post}))
    r.add_route("*", f"{API}/whep/{{session}}",
                _resource({"DELETE": whep_delete, "PATCH": _no_trickle}))
    r.add_get(r"/hearings/{id:\d+}/publish", _page("publish.html", "whip", "hearing.publish"))
    r.add_get(r"/hearings/{id:\d+}/monitor", _page("monitor.html", "whep", "hearing.monitor"))
