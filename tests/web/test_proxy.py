"""X-Forwarded-* from trusted reverse proxies: the pure rules, then the whole app behind one."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from courtcast.catalog import accounts
from courtcast.catalog.service import AuditQuery, Catalog
from courtcast.config import Config, IPNetwork
from courtcast.storage.local import LocalStorage
from courtcast.web.app import create_app
from courtcast.web.proxy import Forwarded, resolve
from courtcast.web.services import WebServices
from tests.web.conftest import PASSWORD, FakeBroadcasts, Seed, Staff
from tests.web.test_staff import sign_in

Client = TestClient[Any, Any]
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
CLIENT = "203.0.113.7"
BEHIND_PROXY = {"X-Forwarded-For": f"198.51.100.1, {CLIENT}", "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "courts.example"}


def client_of(peer: str | None, *forwarded_for: str) -> str | None:
    found = resolve(peer, forwarded_for, [], [], PROXIES)
    return None if found is None else found.remote


# --- the pure rules -------------------------------------------------------------------------


def test_an_untrusted_peer_is_taken_as_it_is() -> None:
    assert resolve(CLIENT, ["1.2.3.4"], ["https"], ["evil.example"], PROXIES) is None
    assert resolve("10.0.0.1", ["1.2.3.4"], ["https"], ["evil.example"], ()) is None
    assert resolve(None, ["1.2.3.4"], [], [], PROXIES) is None  # a Unix socket
    assert resolve("not an address", ["1.2.3.4"], [], [], PROXIES) is None


def test_a_trusted_peer_is_believed() -> None:
    found = resolve("10.0.0.1", [CLIENT], ["https"], ["courts.example"], PROXIES)
    assert found == Forwarded(CLIENT, "https", "courts.example")
    assert resolve("10.0.0.1", [], [], [], PROXIES) == Forwarded("10.0.0.1", None, None)


@pytest.mark.parametrize(("lines", "client"), [
    ([f"{CLIENT}, 10.0.0.2, 10.0.0.3"], CLIENT),  # a chain of trusted proxies is skipped
    ([f"1.1.1.1, 8.8.8.8, {CLIENT}"], CLIENT),  # what the client wrote itself is not believed
    ([f"10.9.9.9, {CLIENT}, 10.0.0.2"], CLIENT),  # a trusted address left of the client too
    (["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # all trusted: the left-most
    (["1.1.1.1", f"{CLIENT}, 10.0.0.2"], CLIENT),  # several lines are one list, in order
    (["1.1.1.1", CLIENT], CLIENT),
    ([f" {CLIENT} ,10.0.0.2 "], CLIENT),
])
def test_the_client_is_the_right_most_untrusted_entry(lines: list[str], client: str) -> None:
    assert client_of("10.0.0.1", *lines) == client


@pytest.mark.parametrize(("lines", "client"), [
    ([f"{CLIENT}, unknown"], "10.0.0.1"),  # garbage right-most: the peer
    ([f"{CLIENT}, junk, 10.0.0.2"], "10.0.0.2"),  # nothing left of garbage is believed
    ([f"{CLIENT},,10.0.0.2"], "10.0.0.2"),  # an empty entry is garbage too
    ([f"{CLIENT},"], "10.0.0.1"),
    ([""], "10.0.0.1"),
    (["203.0.113.07"], "10.0.0.1"),  # leading zeros are ambiguous (octal?)
    (["203.0.113.7.example"], "10.0.0.1"),
    (["_203.0.113.7"], "10.0.0.1"),
    (["[203.0.113.7"], "10.0.0.1"),
    ([f"{CLIENT}:99999"], "10.0.0.1"),
])
def test_malformed_entries_end_the_walk(lines: list[str], client: str) -> None:
    assert client_of("10.0.0.1", *lines) == client


@pytest.mark.parametrize(("entry", "client"), [
    (f"{CLIENT}:4711", CLIENT),  # ports, as some load balancers add them
    ("[2001:db8::7]:443", "2001:db8::7"),
    ("[2001:db8::7]", "2001:db8::7"),
    ("2001:DB8:0:0::7", "2001:db8::7"),  # normalised: one address, one throttle
    ("::ffff:203.0.113.7", CLIENT),  # IPv4-mapped counts as IPv4
])
def test_entry_forms(entry: str, client: str) -> None:
    assert client_of("10.0.0.1", entry) == client


def test_ipv6_proxies() -> None:
    assert client_of("fd00::1", "2001:db8::7, fd00::2") == "2001:db8::7"
    assert client_of("::ffff:10.0.0.1", CLIENT) == CLIENT  # a dual-stack socket's IPv4 peer
    assert client_of("2001:db8::1", CLIENT) is None


@pytest.mark.parametrize(("lines", "scheme"), [
    (["https"], "https"), (["HTTPS "], "https"), (["http"], "http"),
    (["https", "http"], None),  # several lines: which one? neither
    (["https, http"], None), (["ftp"], None), ([""], None), ([], None),
])
def test_forwarded_proto(lines: list[str], scheme: str | None) -> None:
    found = resolve("10.0.0.1", [], lines, [], PROXIES)
    assert found is not None and found.scheme == scheme


@pytest.mark.parametrize(("lines", "host"), [
    (["courts.example"], "courts.example"),
    (["Courts.Example:8443"], "courts.example:8443"),
    (["192.0.2.1:80"], "192.0.2.1:80"),
    (["[2001:db8::1]:443"], "[2001:db8::1]:443"),
    (["localhost"], "localhost"),
    (["courts.example", "evil.example"], None),
    (["courts.example, evil.example"], None),
    (["evil.example/path"], None), (["user@evil.example"], None), (["ex ample"], None),
    (["-bad.example"], None), (["bad-.example"], None), (["x..example"], None),
    (["courts.example."], None), (["courts.example:0"], None), (["courts.example:99999"], None),
    (["courts.example:"], None), (["[not:an:address]"], None), (["2001:db8::1"], None),
    (["法院.example"], None), ([f"{'a' * 64}.example"], None), ([""], None), ([], None),
])
def test_forwarded_host(lines: list[str], host: str | None) -> None:
    found = resolve("10.0.0.1", [], [], lines, PROXIES)
    assert found is not None and found.host == host


# --- the app behind a proxy -----------------------------------------------------------------


async def proxied_client(
    config: Config, catalog: Catalog, broadcasts: FakeBroadcasts, trusted: Sequence[IPNetwork]
) -> AsyncIterator[Client]:
    config = dataclasses.replace(config, trusted_proxies=tuple(trusted))
    assert config.media_dir is not None
    services = WebServices(config, catalog, LocalStorage(config.media_dir), broadcasts)
    async with TestClient(TestServer(create_app(services))) as test_client:
        yield test_client


@pytest.fixture
async def behind_proxy(
    config: Config, catalog: Catalog, broadcasts: FakeBroadcasts
) -> AsyncIterator[Client]:
    """The test client is the proxy: CourtCast runs with --trusted-proxies 127.0.0.1."""
    async for test_client in proxied_client(config, catalog, broadcasts,
                                            [ipaddress.ip_network("127.0.0.1")]):
        yield test_client


@pytest.fixture
async def other_proxy(
    config: Config, catalog: Catalog, broadcasts: FakeBroadcasts
) -> AsyncIterator[Client]:
    """Proxies are trusted, but not the test client."""
    async for test_client in proxied_client(config, catalog, broadcasts, PROXIES):
        yield test_client


async def create_hearing(client: Client, auth: dict[str, str], seed: Seed) -> Any:
    body = {"case_id": seed.case, "courtroom_id": seed.courtroom,
            "scheduled_start": "2026-11-21T10:00:00+08:00",
            "scheduled_end": "2026-11-21T12:00:00+08:00"}
    response = await client.post("/api/v1/hearings", json=body, headers={**auth, **BEHIND_PROXY})
    assert response.status == 201
    return await response.json()


async def test_urls_use_the_forwarded_scheme_and_host(
    behind_proxy: Client, auth: dict[str, str], seed: Seed, catalog: Catalog
) -> None:
    hearing = await create_hearing(behind_proxy, auth, seed)
    hid = hearing["id"]
    assert hearing["page_url"] == f"https://courts.example/hearings/{hid}"
    assert hearing["whip_url"] == f"https://courts.example/api/v1/hearings/{hid}/whip"
    assert hearing["rtmp_url"].startswith("rtmp://courts.example:1935/live/")
    assert hearing["record_url"].startswith(f"https://courts.example/record/{hid}/")
    (entry,) = catalog.audit_entries(AuditQuery(action="hearing.create"))
    assert entry.ip == CLIENT


async def test_headers_from_a_direct_client_change_nothing(
    client: Client, auth: dict[str, str], seed: Seed, catalog: Catalog
) -> None:
    await assert_not_forwarded(client, auth, seed, catalog)


async def test_headers_from_an_untrusted_peer_change_nothing(
    other_proxy: Client, auth: dict[str, str], seed: Seed, catalog: Catalog
) -> None:
    await assert_not_forwarded(other_proxy, auth, seed, catalog)


async def assert_not_forwarded(
    client: Client, auth: dict[str, str], seed: Seed, catalog: Catalog
) -> None:
    hearing = await create_hearing(client, auth, seed)
    own = f"http://{client.server.host}:{client.server.port}"
    assert hearing["page_url"] == f"{own}/hearings/{hearing['id']}"
    assert hearing["whip_url"].startswith(own)
    assert hearing["rtmp_url"].startswith(f"rtmp://{client.server.host}:1935/")
    (entry,) = catalog.audit_entries(AuditQuery(action="hearing.create"))
    assert entry.ip == "127.0.0.1"


async def test_session_cookie_is_secure_when_the_proxy_says_https(
    behind_proxy: Client, staff: Staff, catalog: Catalog
) -> None:
    response = await sign_in(behind_proxy, "clerk.li", PASSWORD, **BEHIND_PROXY)
    assert response.status == 303
    assert response.cookies["courtcast_session"]["secure"]
    (entry,) = catalog.audit_entries(AuditQuery(action="login"))
    assert entry.ip == CLIENT
    plain = await sign_in(behind_proxy, "clerk.li", PASSWORD,
                          **{**BEHIND_PROXY, "X-Forwarded-Proto": "http"})
    assert not plain.cookies["courtcast_session"]["secure"]


async def test_spoofed_proto_does_not_make_the_cookie_secure(client: Client, staff: Staff) -> None:
    response = await sign_in(client, "clerk.li", PASSWORD, **BEHIND_PROXY)
    assert response.status == 303
    assert not response.cookies["courtcast_session"]["secure"]


async def test_form_origin_is_checked_against_the_forwarded_host(
    behind_proxy: Client, staff: Staff
) -> None:
    ours = await sign_in(behind_proxy, "clerk.li", PASSWORD,
                         **{**BEHIND_PROXY, "Origin": "https://courts.example"})
    assert ours.status == 303
    internal = f"http://{behind_proxy.server.host}:{behind_proxy.server.port}"
    theirs = await sign_in(behind_proxy, "clerk.li", PASSWORD,
                           **{**BEHIND_PROXY, "Origin": internal})
    assert theirs.status == 403


def forwarded_for(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_sign_in_is_throttled_per_forwarded_client(
    behind_proxy: Client, staff: Staff, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "MAX_FAILURES_PER_IP", 2)
    for name in ("clerk.li", "clerk.sun"):
        response = await sign_in(behind_proxy, name, "a wrong guess", **forwarded_for(CLIENT))
        assert response.status == 401
    throttled = await sign_in(behind_proxy, "clerk.wang", PASSWORD, **forwarded_for(CLIENT))
    assert throttled.status == 429
    # Everyone else behind the same proxy signs in as usual.
    other = await sign_in(behind_proxy, "clerk.li", PASSWORD, **forwarded_for("198.51.100.9"))
    assert other.status == 303
    failures = catalog.audit_entries(AuditQuery(action="login.failed"))
    assert [entry.ip for entry in failures] == [CLIENT, CLIENT]


async def test_spoofed_addresses_share_the_peer_throttle(
    client: Client, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "MAX_FAILURES_PER_IP", 2)
    for n, name in enumerate(("clerk.li", "clerk.sun")):
        response = await sign_in(client, name, "a wrong guess", **forwarded_for(f"192.0.2.{n}"))
        assert response.status == 401
    throttled = await sign_in(client, "clerk.wang", PASSWORD, **forwarded_for("192.0.2.9"))
    assert throttled.status == 429
