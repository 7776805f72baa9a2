from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioice import Connection, stun
from aiortc import RTCPeerConnection

from courtcast.ingest.whip.ice import IceError, IceSettings, configure, gather_component
from tests.helpers import free_port


class StunResponder(asyncio.DatagramProtocol):
    """A minimal STUN server: answers Binding requests with a fixed mapped address."""

    def __init__(self, mapped: tuple[str, int]) -> None:
        self.mapped = mapped
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.parse_message(data)
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE,
                                transaction_id=request.transaction_id,
                                attributes={"XOR-MAPPED-ADDRESS": self.mapped})
        self.transport.sendto(bytes(response), addr)


@pytest.fixture
async def stun_server() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: StunResponder(("198.51.100.9", 40000)), local_addr=("127.0.0.1", 0))
    yield transport.get_extra_info("sockname")[1]
    transport.close()


def test_no_ice_servers_means_none_not_googles() -> None:
    assert IceSettings().rtc_configuration().iceServers == []
    assert IceSettings().link_headers() == []


def test_stun_and_turn_servers_and_their_link_headers() -> None:
    settings = IceSettings(stun="stun:stun.example.org:3478", turn="turn:turn.example.org",
                           turn_username="court", turn_password="secret")
    urls = [(s.urls, s.username, s.credential) for s in settings.ice_servers()]
    assert urls == [("stun:stun.example.org:3478", None, None),
                    ("turn:turn.example.org", "court", "secret")]
    assert settings.link_headers() == [
        '<stun:stun.example.org:3478>; rel="ice-server"',
        '<turn:turn.example.org>; rel="ice-server"; username="court"; credential="secret"; '
        'credential-type="password"']


async def test_host_candidates_on_the_given_address_port_range_and_nat_address() -> None:
    port = free_port()
    settings = IceSettings(hosts=("127.0.0.1",), port_min=port, port_max=port,
                           public_ip="203.0.113.7")
    connection = Connection(ice_controlling=False)
    try:
        host, nat = await gather_component(connection, settings, 1)
    finally:
        await connection.close()
    assert (host.type, host.host, host.port) == ("host", "127.0.0.1", port)
    assert (nat.type, nat.host, nat.port) == ("srflx", "203.0.113.7", port)
    assert (nat.related_address, nat.related_port) == ("127.0.0.1", port)
    assert nat.priority < host.priority


async def test_a_full_port_range_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        settings = IceSettings(hosts=("127.0.0.1",), port_min=port, port_max=port)
        connection = Connection(ice_controlling=False)
        with pytest.raises(IceError, match="no free UDP port"):
            await gather_component(connection, settings, 1)
        await connection.close()


async def test_server_reflexive_candidate_from_the_stun_server(stun_server: int) -> None:
    connection = Connection(ice_controlling=False, stun_server=("127.0.0.1", stun_server))
    try:
        candidates = await gather_component(connection, IceSettings(hosts=("127.0.0.1",)), 1)
    finally:
        await connection.close()
    assert [(c.type, c.host, c.port) for c in candidates][1:] == [
        ("srflx", "198.51.100.9", 40000)]


async def test_a_peer_connection_offers_only_the_configured_address() -> None:
    pc = RTCPeerConnection(IceSettings().rtc_configuration())
    pc.addTransceiver("audio")
    pc.addTransceiver("video")
    configure(pc, IceSettings(hosts=("127.0.0.1",)))
    configure(pc, IceSettings(hosts=("127.0.0.1",)))  # again: no effect
    try:
        await pc.setLocalDescription(await pc.createOffer())
        candidates = [line for line in pc.localDescription.sdp.splitlines()
                      if line.startswith("a=candidate:")]
    finally:
        await pc.close()
    assert candidates and all(" 127.0.0.1 " in line for line in candidates), candidates
