"""ICE settings for the server side of WHIP/WHEP peer connections.

aiortc (through aioice) gathers host candidates on every interface except 127.0.0.1, on random
ports, and asks Google's STUN server unless told otherwise. A court's server needs to choose:
which addresses to offer (loopback for a one-machine setup and the tests), the public address
of a 1:1 NAT (cloud VMs), a UDP port range the firewall opens, its own STUN/TURN servers.
aioice has no options for the first three, so `configure()` gives each peer connection's ICE
agent a candidate gatherer that follows these settings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from dataclasses import dataclass
from types import MethodType
from typing import Final

from aioice import Candidate, Connection
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import StunProtocol, get_host_addresses, server_reflexive_candidate
from aioice.turn import UDP_SOCKET_BUFFER_SIZE
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

STUN_TIMEOUT: Final = 5.0
_PATCHED: Final = "_courtcast_ice"


class IceError(ValueError):
    """An ICE setting is unusable (e.g. a port range without a free port)."""


@dataclass(frozen=True, slots=True)
class IceSettings:
    hosts: tuple[str, ...] = ()  # addresses for host candidates; () = every interface
    public_ip: str = ""  # NAT 1:1: also advertised, with the same ports
    port_min: int = 0  # UDP port range; 0/0 = any free port
    port_max: int = 0
    stun: str = ""  # stun:HOST[:PORT]
    turn: str = ""  # turn:HOST[:PORT][?transport=udp|tcp] or turns:
    turn_username: str = ""
    turn_password: str = ""

    def ice_servers(self) -> list[RTCIceServer]:
        servers = [RTCIceServer(urls=self.stun)] if self.stun else []
        if self.turn:
            servers.append(RTCIceServer(urls=self.turn, username=self.turn_username,
                                        credential=self.turn_password))
        return servers

    def rtc_configuration(self) -> RTCConfiguration:
        # An explicit empty list: aiortc falls back to Google's STUN server on None.
        return RTCConfiguration(iceServers=self.ice_servers())

    def link_headers(self) -> list[str]:
        """RFC 9725 section 4.6: the ICE servers a WHIP client may use, as Link headers."""
        links = [f'<{self.stun}>; rel="ice-server"'] if self.stun else []
        if self.turn:
            links.append(f'<{self.turn}>; rel="ice-server"; username="{self.turn_username}"; '
                         f'credential="{self.turn_password}"; credential-type="password"')
        return links


async def _bind(address: str, settings: IceSettings, connection: Connection) -> StunProtocol:
    """A UDP endpoint on `address`, within the port range when one is set."""
    ports = [0]
    if settings.port_min:
        ports = list(range(settings.port_min, settings.port_max + 1))
        random.shuffle(ports)  # concurrent sessions should not race for the same ports
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for port in ports:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
            sock.bind((address, port))
        except OSError:
            sock.close()
            continue
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: StunProtocol(connection),
                                                          sock=sock)
        return protocol
    raise IceError(f"no free UDP port on {address} in {settings.port_min}-{settings.port_max}")


def _host_candidate(protocol: StunProtocol, component: int) -> Candidate:
    host, port = protocol.transport.get_extra_info("sockname")[:2]
    return Candidate(foundation=candidate_foundation("host", "udp", host), component=component,
                     transport="udp", priority=candidate_priority(component, "host"),
                     host=host, port=port, type="host")


def _nat_candidate(public_ip: str, base: Candidate) -> Candidate:
    # Advertised like a STUN answer would be: the NAT forwards public_ip:port to our port.
    return Candidate(foundation=candidate_foundation("srflx", "udp", base.host),
                     component=base.component, transport="udp",
                     priority=candidate_priority(base.component, "srflx"), host=public_ip,
                     port=base.port, type="srflx", related_address=base.host,
                     related_port=base.port)


async def _reflexive(protocols: list[StunProtocol], stun: tuple[str, int]) -> list[Candidate]:
    tasks = [asyncio.create_task(server_reflexive_candidate(p, stun)) for p in protocols
             if ipaddress.ip_address(p.local_candidate.host).version == 4]
    if not tasks:
        return []
    done, pending = await asyncio.wait(tasks, timeout=STUN_TIMEOUT)
    for task in pending:
        task.cancel()
    return [task.result()[0] for task in done if task.exception() is None]


async def gather_component(connection: Connection, settings: IceSettings,
                           component: int) -> list[Candidate]:
    """Host (+ NAT 1:1, STUN, TURN) candidates of one ICE component, per `settings`."""
    addresses = list(settings.hosts) or get_host_addresses(use_ipv4=True, use_ipv6=True)
    protocols: list[StunProtocol] = []
    for address in addresses:
        try:
            protocol = await _bind(address, settings, connection)
        except OSError:
            continue  # an address that went away since the settings were made
        protocol.local_candidate = _host_candidate(protocol, component)
        protocols.append(protocol)
    connection._protocols += protocols
    candidates = [p.local_candidate for p in protocols]
    if settings.public_ip:
        candidates += [_nat_candidate(settings.public_ip, c) for c in candidates
                       if ":" not in c.host]
    if connection.stun_server:
        candidates += await _reflexive(protocols, connection.stun_server)
    if connection.turn_server:  # aioice's own gatherer, given no host addresses, does TURN only
        candidates += await Connection.get_component_candidates(connection, component, [])
    return candidates


def configure(pc: RTCPeerConnection, settings: IceSettings) -> None:
    """Make the ICE agents of `pc` gather per `settings`; call before setLocalDescription."""
    transports = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        connection = dtls.transport.iceGatherer._connection
        if getattr(connection, _PATCHED, False):
            continue  # BUNDLE: the transceivers share one transport

        async def component_candidates(self: Connection, component: int, addresses: list[str],
                                        timeout: int = 5) -> list[Candidate]:
            del addresses, timeout  # aioice's own choice of interfaces is what we replace
            return await gather_component(self, settings, component)

        # Instance attribute over the class's method: only this agent gathers differently.
        connection.get_component_candidates = (  # type: ignore[method-assign]
            MethodType(component_candidates, connection))
        setattr(connection, _PATCHED, True)
