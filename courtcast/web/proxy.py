"""Reverse proxies: the client's address, scheme and host from X-Forwarded-* (nginx's real_ip).

Only a trusted proxy's headers count (`--trusted-proxies`): anybody else can send them. The
middleware rewrites the request once, first of all, so `request.remote`, `.scheme`, `.host`,
`.secure` and `.url` are the client's everywhere after it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from courtcast.config import IPNetwork

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")
# An X-Forwarded-For entry with a port (some load balancers add one): [IPv6][:PORT], IPv4:PORT.
_WITH_PORT = re.compile(
    r"(?:\[(?P<v6>[^\]]*)\]|(?P<v4>[0-9.]*)(?=:))(?::(?P<port>[0-9]{1,5}))?", re.ASCII
)
# A forwarded host: a DNS name or IPv4 address, or a bracketed IPv6 address; then a port.
_HOST = re.compile(
    r"(?:(?P<name>[a-z0-9.-]{1,253})|\[(?P<v6>[0-9a-f:.]+)\])(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What a trusted proxy says of the client; None keeps the request's own value."""

    remote: str
    scheme: str | None
    host: str | None


def resolve(
    peer: str | None,
    forwarded_for: Sequence[str],
    forwarded_proto: Sequence[str],
    forwarded_host: Sequence[str],
    trusted: Sequence[IPNetwork],
) -> Forwarded | None:
    """The client as the trusted proxies saw it; None when the peer is not one of them (the
    request then stands as it came; its X-Forwarded-* mean nothing). The arguments after `peer`
    are every line of the request's header, in order.

    - X-Forwarded-For: the lines joined in order (HTTP list semantics), read from the right:
      trusted proxies are skipped and the first other address is the client; when every entry
      is trusted, the left-most is. An entry that is not an IP address (`ADDR`, `IPv4:PORT`,
      `[IPv6]` or `[IPv6]:PORT`; empty counts as malformed) ends the walk and the client is the
      last address read: the peer itself when the right-most entry is bad. Nothing left of
      garbage is ever believed. IPv4-mapped IPv6 addresses count as their IPv4 address.
    - X-Forwarded-Proto: exactly one line, `http` or `https` in any case; anything else (a
      second line, a comma list, another scheme) is ignored.
    - X-Forwarded-Host: exactly one line, a DNS name, IPv4 address or bracketed IPv6 address
      with an optional port 1-65535, lower-cased; anything else is ignored.
    """
    address = _ip(peer or "")
    if address is None or not _is_trusted(address, trusted):
        return None
    return Forwarded(
        remote=str(_client(address, forwarded_for, trusted)),
        scheme=_scheme(forwarded_proto),
        host=_host(forwarded_host),
    )


def _ip(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address


def _entry(text: str) -> Address | None:
    """One X-Forwarded-For entry, its port (if any) dropped."""
    text = text.strip()
    match = _WITH_PORT.fullmatch(text)
    if match is not None:
        if not _valid_port(match["port"]):
            return None
        text = match["v6"] if match["v6"] is not None else match["v4"]
    return _ip(text)


def _valid_port(port: str | None) -> bool:
    return port is None or 0 < int(port) < 65536


def _is_trusted(address: Address, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def _client(peer: Address, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> Address:
    client = peer
    entries = [entry for line in forwarded_for for entry in line.split(",")]
    for entry in reversed(entries):
        if not _is_trusted(client, trusted):
            break  # everything further left was written by the client itself
        address = _entry(entry)
        if address is None:
            break
        client = address
    return client


def _scheme(lines: Sequence[str]) -> str | None:
    value = lines[0].strip().lower() if len(lines) == 1 else ""
    return value if value in SCHEMES else None


def _host(lines: Sequence[str]) -> str | None:
    value = lines[0].strip().lower() if len(lines) == 1 else ""
    match = _HOST.fullmatch(value)
    if match is None or not _valid_port(match["port"]):
        return None
    return value if _valid_name(match["name"], match["v6"]) else None


def _valid_name(name: str | None, v6: str | None) -> bool:
    if name is not None:
        return all(_LABEL.fullmatch(label) for label in name.split("."))
    try:
        ipaddress.IPv6Address(v6 or "")
    except ValueError:
        return False
    return True


def middleware(trusted: Sequence[IPNetwork]) -> Middleware:
    """Rewrites each request from a trusted proxy; must come before every other middleware."""
    networks = tuple(trusted)

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        found = resolve(
            request.remote,
            headers.getall(hdrs.X_FORWARDED_FOR, []),
            headers.getall(hdrs.X_FORWARDED_PROTO, []),
            headers.getall(hdrs.X_FORWARDED_HOST, []),
            networks,
        )
        if found is None:
            return await handler(request)
        return await handler(request.clone(
            remote=found.remote,
            scheme=found.scheme or request.scheme,
            host=found.host or request.host,
        ))

    return forwarded
