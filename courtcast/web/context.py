"""Per-application state and the rules pages and API share (visibility, public URLs)."""

from __future__ import annotations

from aiohttp import web

from courtcast.broadcast.layout import master_key, public_root
from courtcast.catalog.models import HearingStatus
from courtcast.catalog.service import HearingView
from courtcast.web.services import WebServices

SERVICES = web.AppKey("courtcast_services", WebServices)

# What the public may see of a hearing; `withdrawn` disappears from every public answer.
PUBLIC_STATUSES = (
    HearingStatus.SCHEDULED.value,
    HearingStatus.LIVE.value,
    HearingStatus.INTERRUPTED.value,
    HearingStatus.ENDED.value,
)


def services(request: web.Request) -> WebServices:
    return request.app[SERVICES]


def publicly_visible(view: HearingView) -> bool:
    """Shown to anonymous viewers: public, approved, its case not restricted, not withdrawn
    (the same rule as the catalog's public filters)."""
    return (
        view.hearing.public
        and view.hearing.approved_at is not None
        and view.case.restriction is None
        and view.hearing.status in PUBLIC_STATUSES
    )


def client_ip(request: web.Request) -> str:
    """The client's address, for the audit log and sign-in throttling: the peer, or behind a
    trusted proxy the address it forwarded (`courtcast.web.proxy` rewrote `request.remote`)."""
    return (request.remote or "")[:64]


def origin(request: web.Request) -> str:
    """The scheme and host the client used, for absolute links in answers."""
    return f"{request.scheme}://{request.host}"


def playback_url(svc: WebServices, hearing_id: int) -> str:
    return svc.storage.public_url(master_key(hearing_id))


def poster_url(svc: WebServices, hearing_id: int) -> str:
    """Where a hearing's poster is public (show it only when `Hearing.has_poster`)."""
    return svc.storage.public_url(f"{public_root(hearing_id)}/poster.jpg")


def previews_url(svc: WebServices, hearing_id: int) -> str:
    """The replay's seek-bar previews track (show it only when `Hearing.has_previews`)."""
    return svc.storage.public_url(f"{public_root(hearing_id)}/thumbs.vtt")


def page_url(request: web.Request, hearing_id: int) -> str:
    return f"{origin(request)}/hearings/{hearing_id}"


def whip_url(request: web.Request, hearing_id: int) -> str:
    return f"{origin(request)}/api/v1/hearings/{hearing_id}/whip"
