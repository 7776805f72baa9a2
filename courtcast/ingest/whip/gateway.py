"""The WebRTC side of CourtCast as the web routes use it: WHIP sessions and WHEP viewers.

HTTP concerns (status codes, headers, who may call) stay in `courtcast/web/whip.py`; this
module validates offers, asks the `PublishAuthorizer` for a sink, runs the peer connections
and keeps the sessions and per-hearing relays.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from courtcast.config import Config
from courtcast.ingest.publish import PublishAuthorizer, PublishRequest
from courtcast.ingest.whip import peer, sdp
from courtcast.ingest.whip.ice import IceError, IceSettings
from courtcast.ingest.whip.publisher import SessionLimits, WhipPublisher
from courtcast.ingest.whip.relay import HearingRelay, WhepViewer

log = logging.getLogger("courtcast.ingest.whip")

RELAY_CHECK_SECONDS: Final = 5.0


class FeedTap(Protocol):
    """`Broadcaster.watch`: a copy of a live hearing's incoming feed, None when not live."""

    def watch(self, hearing_id: int, listener: HearingRelay) -> Callable[[], None] | None: ...


class GatewayError(Exception):
    """A request the gateway cannot serve; `code` is one of the class constants."""

    NOT_LIVE = "not_live"
    FULL = "full"
    NEGOTIATION = "negotiation_failed"
    UNAVAILABLE = "unavailable"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    ice: IceSettings = field(default_factory=IceSettings)
    limits: SessionLimits = field(default_factory=SessionLimits)
    max_viewers: int = 4  # WHEP monitors per hearing
    relay_idle: float = 60.0  # a relay with no media for this long lets its viewers go

    @classmethod
    def from_config(cls, config: Config) -> GatewaySettings:
        rtc = config.webrtc
        ice = IceSettings(hosts=rtc.hosts, public_ip=rtc.public_ip, port_min=rtc.port_min,
                          port_max=rtc.port_max, stun=rtc.stun_server, turn=rtc.turn_server,
                          turn_username=rtc.turn_username, turn_password=rtc.turn_password)
        limits = SessionLimits(segment_seconds=config.segment_seconds,
                               idle_timeout=config.idle_timeout)
        return cls(ice, limits, max_viewers=rtc.monitor_viewers)


@dataclass(frozen=True, slots=True)
class Answer:
    session_id: str
    sdp: str
    etag: str


async def _negotiated(session: WhipPublisher | WhepViewer, negotiation: Awaitable[str]) -> str:
    """The answer; if there is none, the session is closed (its sink too) before raising."""
    try:
        return await negotiation
    except BaseException as exc:  # a cancelled request too: the publisher slot must be freed
        await asyncio.shield(session.close())
        if isinstance(exc, IceError):
            raise GatewayError(GatewayError.UNAVAILABLE, f"no media port: {exc}") from exc
        if isinstance(exc, Exception):
            raise GatewayError(GatewayError.NEGOTIATION,
                               f"the offer was not accepted: {exc}") from exc
        raise


def _session_id() -> str:
    return secrets.token_urlsafe(18)  # the session URL is a capability: unguessable


class WebRtcGateway:
    def __init__(self, authorizer: PublishAuthorizer, feeds: FeedTap | None,
                 settings: GatewaySettings | None = None) -> None:
        peer.check_aiortc()
        if logging.getLogger("aioice").level == logging.NOTSET:
            # aioice logs every candidate pair check at INFO: noise in a server's log.
            logging.getLogger("aioice").setLevel(logging.WARNING)
        self.authorizer = authorizer
        self.feeds = feeds
        self.settings = settings or GatewaySettings()
        self.publishers: dict[str, tuple[int, WhipPublisher]] = {}
        self.relays: dict[int, HearingRelay] = {}
        self._checker: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # -- WHIP -----------------------------------------------------------------------------------

    async def publish(self, hearing_id: int, stream_key: str, remote: str,
                      body: bytes) -> Answer:
        """Raises `sdp.SdpError`, `PublishRefused` or `GatewayError`."""
        offer = sdp.parse_offer(body, sdp.Purpose.PUBLISH)
        sink = await self.authorizer.begin_publish(PublishRequest("whip", stream_key, remote))
        session_id = _session_id()
        publisher = WhipPublisher(session_id, sink, offer, self.settings.ice,
                                  self.settings.limits, self._publisher_closed)
        self.publishers[session_id] = (hearing_id, publisher)
        answer = await _negotiated(publisher, publisher.negotiate(body.decode()))
        log.info("whip %s: hearing %s, publisher %s", session_id[:8], hearing_id, remote)
        return Answer(session_id, answer, f'"{secrets.token_hex(8)}"')

    def _publisher_closed(self, publisher: WhipPublisher) -> None:
        self.publishers.pop(publisher.id, None)

    async def unpublish(self, hearing_id: int, session_id: str) -> bool:
        found = self.publishers.get(session_id)
        if found is None or found[0] != hearing_id:
            return False
        await found[1].close("DELETE by the publisher")
        return True

    # -- WHEP -----------------------------------------------------------------------------------

    async def play(self, hearing_id: int, remote: str, body: bytes) -> Answer:
        """Raises `sdp.SdpError` or `GatewayError`."""
        offer = sdp.parse_offer(body, sdp.Purpose.PLAY)
        existing = self.relays.get(hearing_id)
        if len(existing.viewers if existing else ()) >= self.settings.max_viewers:
            raise GatewayError(GatewayError.FULL, f"hearing {hearing_id} already has "
                               f"{self.settings.max_viewers} monitors; close one first")
        relay = self._relay(hearing_id)
        viewer = WhepViewer(_session_id(), self.settings.ice,
                            lambda v: self._viewer_closed(relay, v))
        relay.viewers[viewer.id] = viewer
        answer = await _negotiated(viewer, viewer.negotiate(offer, body.decode()))
        self._keyframe_for(hearing_id)
        log.info("whep %s: hearing %s, monitor %s", viewer.id[:8], hearing_id, remote)
        return Answer(viewer.id, answer, f'"{secrets.token_hex(8)}"')

    def _relay(self, hearing_id: int) -> HearingRelay:
        relay = self.relays.get(hearing_id)
        if relay is not None:
            return relay
        relay = HearingRelay(hearing_id)
        unwatch = self.feeds.watch(hearing_id, relay) if self.feeds is not None else None
        if unwatch is None:
            raise GatewayError(GatewayError.NOT_LIVE,
                               f"hearing {hearing_id} is not being broadcast now")
        relay.unwatch = unwatch
        self.relays[hearing_id] = relay
        if self._checker is None or self._checker.done():
            self._checker = asyncio.create_task(self._check_relays(), name="whep-relays")
        return relay

    def _keyframe_for(self, hearing_id: int) -> None:
        """A new monitor starts at the next keyframe: ask a WHIP publisher for one now."""
        for owner, publisher in self.publishers.values():
            if owner == hearing_id:
                publisher.request_keyframe()

    def _viewer_closed(self, relay: HearingRelay, viewer: WhepViewer) -> None:
        relay.viewers.pop(viewer.id, None)
        if not relay.viewers and self.relays.get(relay.hearing_id) is relay:
            del self.relays[relay.hearing_id]
            task = asyncio.get_running_loop().create_task(relay.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def stop_playing(self, hearing_id: int, session_id: str) -> bool:
        relay = self.relays.get(hearing_id)
        viewer = relay.viewers.get(session_id) if relay is not None else None
        if viewer is None:
            return False
        await viewer.close()
        return True

    async def _check_relays(self) -> None:
        """Lets monitors go when their hearing's feed stopped (ended, or a long break)."""
        while self.relays:
            await asyncio.sleep(RELAY_CHECK_SECONDS)
            now = time.monotonic()
            for relay in list(self.relays.values()):
                if not relay.viewers or now - relay.last_packet > self.settings.relay_idle:
                    log.info("whep: hearing %s sent nothing for %g s, monitors closed",
                             relay.hearing_id, self.settings.relay_idle)
                    self.relays.pop(relay.hearing_id, None)
                    await relay.close()

    # -- lifetime -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Ends every session; publishers' sinks are closed so their media is kept."""
        if self._checker is not None:
            self._checker.cancel()
        publishers = [publisher for _, publisher in list(self.publishers.values())]
        await asyncio.gather(*(p.close("server shutting down") for p in publishers),
                             return_exceptions=True)
        relays, self.relays = list(self.relays.values()), {}
        await asyncio.gather(*(r.close() for r in relays), *self._closing,
                             return_exceptions=True)
