"""The WHIP/WHEP endpoints as an HTTP client sees them (RFC 9725), and the clerks' pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.ingest.publish import PublishRefused
from courtcast.ingest.whip.gateway import GatewaySettings, WebRtcGateway
from courtcast.ingest.whip.relay import HearingRelay
from courtcast.storage.local import LocalStorage
from courtcast.web.app import create_app
from courtcast.web.services import WebServices
from tests.ingest.whip.offers import offer
from tests.ingest.whip.support import (
    LOOPBACK,
    RecordingAuthorizer,
    accept,
    publisher_offer,
    viewer_offer,
)
from tests.web.conftest import FakeBroadcasts, Seed, Staff

Client = TestClient[Any, Any]
SDP = {"Content-Type": "application/sdp"}


class LiveFeeds:
    def __init__(self, live: int) -> None:
        self.live = live

    def watch(self, hearing_id: int, listener: HearingRelay) -> Callable[[], None] | None:
        return (lambda: None) if hearing_id == self.live else None


@pytest.fixture
def authorizer() -> RecordingAuthorizer:
    return RecordingAuthorizer()


@pytest.fixture
def gateway(authorizer: RecordingAuthorizer, seed: Seed) -> Iterator[WebRtcGateway]:
    yield WebRtcGateway(authorizer, LiveFeeds(seed.live), GatewaySettings(LOOPBACK, max_viewers=1))


@pytest.fixture
async def client(config: Config, catalog: Catalog, broadcasts: FakeBroadcasts,
                 gateway: WebRtcGateway) -> AsyncIterator[Client]:
    assert config.media_dir is not None
    services = WebServices(config, catalog, LocalStorage(config.media_dir), broadcasts, gateway)
    async with TestClient(TestServer(create_app(services))) as test_client:
        yield test_client
    await gateway.close()


def whip(hearing: int) -> str:
    return f"/api/v1/hearings/{hearing}/whip"


def key_of(catalog: Catalog, hearing: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {catalog.hearing(hearing).stream_key}"} | SDP


async def error(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = await response.json()
    return str(body["error"]["message"])


async def test_publish_and_delete(client: Client, catalog: Catalog, seed: Seed,
                                  authorizer: RecordingAuthorizer) -> None:
    pc = await publisher_offer()
    response = await client.post(whip(seed.scheduled), data=pc.localDescription.sdp,
                                 headers=key_of(catalog, seed.scheduled))
    assert response.status == 201, await response.text()
    assert response.headers["Content-Type"].startswith("application/sdp")
    location = response.headers["Location"]
    assert re.fullmatch(rf"{whip(seed.scheduled)}/[\w-]{{24}}", location)
    assert re.fullmatch(r'"[0-9a-f]{16}"', response.headers["ETag"])
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    await accept(pc, await response.text())
    assert authorizer.requests[0].stream_key == catalog.hearing(seed.scheduled).stream_key
    patch = await client.patch(location, data="a=end-of-candidates",
                               headers={"Content-Type": "application/trickle-ice-sdpfrag"})
    assert "trickle ICE" in await error(patch, 405)
    assert patch.headers["Allow"] == "DELETE, OPTIONS"
    assert (await client.delete(location)).status == 200
    assert authorizer.sinks[0].closed.is_set()
    assert "no such WHIP session" in await error(await client.delete(location), 404)
    await pc.close()


@pytest.mark.parametrize(("headers", "status", "message"), [
    ({}, 401, "Authorization: Bearer"),
    ({"Authorization": "Basic abc"}, 401, "Authorization: Bearer"),
    ({"Authorization": "Bearer wrong-key"}, 401, "not the stream key of hearing"),
])
async def test_keys(client: Client, seed: Seed, headers: dict[str, str], status: int,
                    message: str, authorizer: RecordingAuthorizer) -> None:
    response = await client.post(whip(seed.scheduled), data=offer(), headers=headers | SDP)
    assert message in await error(response, status)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert authorizer.requests == []


async def test_an_unknown_hearing_looks_like_a_wrong_key(client: Client, catalog: Catalog,
                                                         seed: Seed) -> None:
    response = await client.post(whip(987654), data=offer(), headers=key_of(catalog, seed.live))
    await error(response, 401)


async def test_offers_that_are_not_sdp(client: Client, catalog: Catalog, seed: Seed) -> None:
    headers = key_of(catalog, seed.scheduled)
    wrong_type = await client.post(whip(seed.scheduled), data=offer(),
                                   headers=headers | {"Content-Type": "application/json"})
    assert "application/sdp" in await error(wrong_type, 415)
    malformed = await client.post(whip(seed.scheduled), data=b"v=0\r\nhello\r\n",
                                  headers=headers)
    assert "not of the form x=value" in await error(malformed, 400)
    empty = await client.post(whip(seed.scheduled), data=b"", headers=headers)
    assert "no SDP offer" in await error(empty, 400)
    huge = await client.post(whip(seed.scheduled), data=b"v=0\r\n" + b"a=x\r\n" * 20000,
                             headers=headers)
    await error(huge, 413)


@pytest.mark.parametrize(("code", "status"), [
    ("busy", 409), ("not_approved", 403), ("restricted", 403), ("unknown_key", 401)])
async def test_refusals(client: Client, catalog: Catalog, seed: Seed,
                        authorizer: RecordingAuthorizer, code: str, status: int) -> None:
    authorizer.refusal = PublishRefused(code, f"refused: {code}")
    response = await client.post(whip(seed.scheduled), data=offer(),
                                 headers=key_of(catalog, seed.scheduled))
    assert await error(response, status) == f"refused: {code}"


async def test_methods_and_cors_preflight(client: Client, seed: Seed) -> None:
    preflight = await client.options(whip(seed.live), headers={
        "Origin": "https://court.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status == 204
    allowed = preflight.headers["Access-Control-Allow-Headers"]
    assert "Authorization" in allowed and "Content-Type" in allowed
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert preflight.headers["Accept-Post"] == "application/sdp"
    expose = preflight.headers["Access-Control-Expose-Headers"]
    assert all(name in expose for name in ("Location", "ETag", "Link"))
    get = await client.get(whip(seed.live))
    await error(get, 405)
    assert get.headers["Allow"] == "POST, OPTIONS"
    session = await client.options(f"{whip(seed.live)}/abc")
    assert session.headers["Allow"] == "DELETE, OPTIONS"
    assert "no such WHIP session" in await error(await client.delete(f"{whip(seed.live)}/x"),
                                                 404)


async def test_without_webrtc_the_endpoints_say_so(config: Config, catalog: Catalog,
                                                   broadcasts: FakeBroadcasts,
                                                   seed: Seed) -> None:
    assert config.media_dir is not None
    services = WebServices(config, catalog, LocalStorage(config.media_dir), broadcasts)
    async with TestClient(TestServer(create_app(services))) as plain:
        response = await plain.post(whip(seed.live), data=offer(),
                                    headers=key_of(catalog, seed.live))
        assert "not enabled" in await error(response, 503)


async def test_monitor_access(client: Client, catalog: Catalog, seed: Seed) -> None:
    whep = f"/api/v1/hearings/{seed.live}/whep"
    pc, _ = await viewer_offer()
    sdp = pc.localDescription.sdp
    anonymous = await client.post(whep, data=sdp, headers=SDP)
    assert "signed-in clerk" in await error(anonymous, 401)
    stranger = await client.post(whep, data=sdp, headers=SDP | {"Authorization": "Bearer x"})
    await error(stranger, 401)
    other_key = await client.post(whep, data=sdp, headers=key_of(catalog, seed.scheduled))
    await error(other_key, 401)
    not_live = await client.post(f"/api/v1/hearings/{seed.scheduled}/whep", data=sdp,
                                 headers=key_of(catalog, seed.scheduled))
    assert "not being broadcast" in await error(not_live, 409)
    by_key = await client.post(whep, data=sdp, headers=key_of(catalog, seed.live))
    assert by_key.status == 201, await by_key.text()
    second, _ = await viewer_offer()
    full = await client.post(whep, data=second.localDescription.sdp,
                             headers=key_of(catalog, seed.live))
    assert "monitors" in await error(full, 503)
    assert full.headers["Retry-After"] == "30"
    assert (await client.delete(by_key.headers["Location"])).status == 200
    for peer in (pc, second):
        await peer.close()


def credentials(staff: Staff, who: str, means: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    if means == "token":
        return {"Authorization": f"Bearer {staff.tokens[who]}"}
    return {"Cookie": f"courtcast_session={staff.cookies[who]}"}


@pytest.mark.parametrize("means", ["token", "session"])
@pytest.mark.parametrize(("who", "status"), [
    ("anonymous", 401), ("other_clerk", 403), ("plain_clerk", 201), ("admin", 201)])
async def test_who_may_monitor(client: Client, seed: Seed, staff: Staff, means: str, who: str,
                               status: int) -> None:
    """The court's clerks and administrators, by API token or by the monitor page's session."""
    pc, _ = await viewer_offer()
    response = await client.post(f"/api/v1/hearings/{seed.live}/whep",
                                 data=pc.localDescription.sdp,
                                 headers=SDP | credentials(staff, who, means))
    if status == 201:
        assert response.status == 201, await response.text()
        assert (await client.delete(response.headers["Location"])).status == 200
    else:
        await error(response, status)
    await pc.close()


async def test_a_session_counts_only_from_our_own_pages(client: Client, seed: Seed,
                                                        staff: Staff) -> None:
    pc, _ = await viewer_offer()
    foreign = await client.post(f"/api/v1/hearings/{seed.live}/whep",
                                data=pc.localDescription.sdp,
                                headers=SDP | credentials(staff, "admin", "session")
                                | {"Origin": "https://evil.example"})
    assert "own pages" in await error(foreign, 403)
    unknown = await client.post("/api/v1/hearings/987654/whep", data=pc.localDescription.sdp,
                                headers=SDP | credentials(staff, "admin", "token"))
    await error(unknown, 404)
    await pc.close()


def scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>", html)


async def test_the_publish_page(client: Client, catalog: Catalog, seed: Seed,
                                staff: Staff) -> None:
    url = f"/hearings/{seed.live}/publish?codec=vp8"
    anonymous = await client.get(url, allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/login?next=")
    response = await client.get(url, headers=credentials(staff, "plain_clerk", "session"))
    assert response.status == 200
    html = await response.text()
    assert f'data-whip-url="/api/v1/hearings/{seed.live}/whip"' in html
    assert '<option value="vp8" selected>' in html
    # The signed-in clerk never types the key: the page hands it to the publisher script.
    assert f'data-stream-key="{catalog.hearing(seed.live).stream_key}"' in html
    assert all('src="/static/' in tag or 'type="application/json"' in tag
               for tag in scripts(html)), "no inline script under the CSP"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    for name in ("publisher.js", "timecode.js", "whip-client.js"):
        assert (await client.get(f"/static/{name}")).status == 200


async def test_the_monitor_page(client: Client, catalog: Catalog, seed: Seed,
                                staff: Staff) -> None:
    signed = credentials(staff, "clerk", "session")
    monitor = await (await client.get(f"/hearings/{seed.restricted}/monitor",
                                      headers=signed)).text()
    assert f'data-whep-url="/api/v1/hearings/{seed.restricted}/whep"' in monitor
    assert catalog.hearing(seed.restricted).stream_key not in monitor
    assert catalog.hearing_view(seed.restricted).case.title in monitor  # staff see the case
    assert '<option value="auto" selected>' in (
        await (await client.get(f"/hearings/{seed.live}/publish?codec=av1",
                                headers=signed)).text())
    assert (await client.get("/hearings/987654/publish", headers=signed)).status == 404
    other = credentials(staff, "other_clerk", "session")
    refused = await client.get(f"/hearings/{seed.live}/publish", headers=other)
    assert refused.status == 403
    assert catalog.hearing(seed.live).stream_key not in await refused.text()
    assert (await client.get("/static/whep-monitor.js")).status == 200
