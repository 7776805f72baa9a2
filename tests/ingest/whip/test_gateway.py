from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from courtcast import cli
from courtcast import config as configuration
from courtcast.ingest.publish import PublishRefused
from courtcast.ingest.whip import gateway as gateway_module
from courtcast.ingest.whip.gateway import GatewayError, GatewaySettings, WebRtcGateway
from courtcast.ingest.whip.ice import IceSettings
from courtcast.ingest.whip.relay import HearingRelay
from courtcast.ingest.whip.sdp import SdpError

from .offers import offer
from .support import LOOPBACK, RecordingAuthorizer, accept, publisher_offer, viewer_offer


class Feeds:
    """Stands in for `Broadcaster.watch`: hearing 1 is live, others are not."""

    def __init__(self) -> None:
        self.watching: list[HearingRelay] = []

    def watch(self, hearing_id: int, listener: HearingRelay) -> Callable[[], None] | None:
        if hearing_id != 1:
            return None
        self.watching.append(listener)
        return lambda: self.watching.remove(listener)


def make(authorizer: RecordingAuthorizer | None = None, feeds: Feeds | None = None,
         **settings: float) -> WebRtcGateway:
    return WebRtcGateway(authorizer or RecordingAuthorizer(), feeds,
                         GatewaySettings(LOOPBACK, **settings))  # type: ignore[arg-type]


async def test_a_bad_offer_is_refused_before_the_authorizer_is_asked() -> None:
    authorizer = RecordingAuthorizer()
    gateway = make(authorizer)
    with pytest.raises(SdpError):
        await gateway.publish(1, "key", "peer", b"v=0\r\n")
    assert authorizer.requests == []


async def test_a_refusal_comes_back_unchanged() -> None:
    gateway = make(RecordingAuthorizer(PublishRefused("busy", "already publishing")))
    with pytest.raises(PublishRefused, match="busy"):
        await gateway.publish(1, "key", "peer", offer())
    assert gateway.publishers == {}


async def test_publish_then_delete() -> None:
    authorizer = RecordingAuthorizer()
    gateway = make(authorizer)
    client = await publisher_offer("H264")
    answer = await gateway.publish(3, "key", "10.0.0.1:5000",
                                   client.localDescription.sdp.encode())
    assert authorizer.requests[0].protocol == "whip"
    assert authorizer.requests[0].remote == "10.0.0.1:5000"
    assert answer.etag.startswith('"') and len(answer.session_id) >= 24
    await accept(client, answer.sdp)
    assert not await gateway.unpublish(4, answer.session_id), "another hearing's session"
    assert await gateway.unpublish(3, answer.session_id)
    assert authorizer.sinks[0].closed.is_set() and gateway.publishers == {}
    assert not await gateway.unpublish(3, answer.session_id)
    await client.close()
    await gateway.close()


async def test_an_offer_aiortc_cannot_take_closes_the_sink() -> None:
    authorizer = RecordingAuthorizer()
    gateway = make(authorizer)
    broken = offer().replace(b"a=setup:actpass", b"a=setup:bogus")
    with pytest.raises(GatewayError) as caught:
        await gateway.publish(1, "key", "peer", broken)
    assert caught.value.code == GatewayError.NEGOTIATION
    assert authorizer.sinks[0].closed.is_set() and gateway.publishers == {}


async def test_no_free_media_port_is_the_servers_problem() -> None:
    authorizer = RecordingAuthorizer()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        ice = IceSettings(hosts=("127.0.0.1",), port_min=port, port_max=port)
        gateway = WebRtcGateway(authorizer, None, GatewaySettings(ice))
        client = await publisher_offer("H264")
        with pytest.raises(GatewayError) as caught:
            await gateway.publish(1, "key", "peer", client.localDescription.sdp.encode())
    assert caught.value.code == GatewayError.UNAVAILABLE
    assert authorizer.sinks[0].closed.is_set()
    await client.close()


async def test_with_the_monitor_off_nothing_is_watched() -> None:
    feeds = Feeds()
    gateway = make(feeds=feeds, max_viewers=0)
    client, _ = await viewer_offer()
    with pytest.raises(GatewayError) as caught:
        await gateway.play(1, "peer", client.localDescription.sdp.encode())
    assert caught.value.code == GatewayError.FULL and feeds.watching == []
    await client.close()


async def test_monitors_need_a_live_hearing_and_are_capped() -> None:
    feeds = Feeds()
    gateway = make(feeds=feeds, max_viewers=1)
    first, _ = await viewer_offer()
    with pytest.raises(GatewayError) as not_live:
        await gateway.play(2, "peer", first.localDescription.sdp.encode())
    assert not_live.value.code == GatewayError.NOT_LIVE
    answer = await gateway.play(1, "peer", first.localDescription.sdp.encode())
    assert len(feeds.watching) == 1
    second, _ = await viewer_offer()
    with pytest.raises(GatewayError) as full:
        await gateway.play(1, "peer", second.localDescription.sdp.encode())
    assert full.value.code == GatewayError.FULL
    assert not await gateway.stop_playing(1, "nobody")
    assert await gateway.stop_playing(1, answer.session_id)
    await asyncio.sleep(0.1)
    assert feeds.watching == [] and gateway.relays == {}, "the last monitor left"
    for pc in (first, second):
        await pc.close()
    await gateway.close()


async def test_monitors_of_a_silent_hearing_are_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_module, "RELAY_CHECK_SECONDS", 0.1)
    feeds = Feeds()
    gateway = make(feeds=feeds, relay_idle=0.2)
    client, _ = await viewer_offer()
    await gateway.play(1, "peer", client.localDescription.sdp.encode())
    await asyncio.sleep(0.6)
    assert gateway.relays == {} and feeds.watching == []
    await client.close()
    await gateway.close()


def test_settings_from_the_configuration() -> None:
    config = configuration.load(data="/tmp/x", http="127.0.0.1:8080", webrtc={
        "webrtc_ports": "40000-40100", "webrtc_public_ip": "203.0.113.7",
        "stun_server": "stun:stun.example.org", "turn_server": "turn:turn.example.org",
        "turn_username": "u", "turn_password": "p", "monitor_viewers": "2"})
    settings = GatewaySettings.from_config(config)
    ice = settings.ice
    assert ice.hosts == ("127.0.0.1",), "ICE follows the portal's address by default"
    assert (ice.port_min, ice.port_max, ice.public_ip) == (40000, 40100, "203.0.113.7")
    assert (ice.stun, ice.turn, ice.turn_username, ice.turn_password) == (
        "stun:stun.example.org", "turn:turn.example.org", "u", "p")
    assert settings.max_viewers == 2
    assert settings.limits.segment_seconds == config.segment_seconds
    everywhere = configuration.load(data="/tmp/x", http="0.0.0.0:8080")
    assert everywhere.webrtc.hosts == ()
    pinned = configuration.load(data="/tmp/x", webrtc={"webrtc_hosts": "10.0.0.5, ::1"})
    assert pinned.webrtc.hosts == ("10.0.0.5", "::1")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("webrtc_hosts", "example.org", "--webrtc-hosts must be IP addresses"),
    ("webrtc_public_ip", "nat", "--webrtc-public-ip must be IP addresses"),
    ("webrtc_ports", "5000", "--webrtc-ports must be MIN-MAX"),
    ("webrtc_ports", "6000-5000", "--webrtc-ports must be MIN-MAX"),
    ("stun_server", "stun.example.org", "--stun-server must be"),
    ("turn_server", "turn:t.example.org", "needs --turn-username and --turn-password"),
    ("monitor_viewers", "-1", "--monitor-viewers must be a whole number"),
])
def test_bad_settings_are_refused(option: str, value: str, message: str) -> None:
    with pytest.raises(configuration.ConfigError, match=message):
        configuration.load(data="/tmp/x", webrtc={option: value})


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTCAST_WEBRTC_PORTS", "50000-50010")
    monkeypatch.setenv("COURTCAST_TURN_PASSWORD", "from-env")
    monkeypatch.setenv("COURTCAST_TURN_SERVER", "turns:turn.example.org:5349")
    monkeypatch.setenv("COURTCAST_TURN_USERNAME", "court")
    rtc = configuration.load(data="/tmp/x").webrtc
    assert (rtc.port_min, rtc.port_max, rtc.turn_password) == (50000, 50010, "from-env")


def test_command_line_options_reach_the_settings() -> None:
    args = cli.build_parser().parse_args([
        "serve", "--data", "/tmp/x", "--webrtc-hosts", "192.0.2.10", "--webrtc-ports",
        "40000-40010", "--stun-server", "stun:stun.example.org:3478", "--monitor-viewers", "0"])
    rtc = cli.load_config(args).webrtc
    assert (rtc.hosts, rtc.port_min, rtc.stun_server, rtc.monitor_viewers) == (
        ("192.0.2.10",), 40000, "stun:stun.example.org:3478", 0)
