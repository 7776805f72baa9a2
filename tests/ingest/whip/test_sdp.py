from __future__ import annotations

import pytest

from courtcast.ingest.whip import sdp
from courtcast.ingest.whip.sdp import Purpose, SdpError, parse, parse_offer

from .offers import offer


def test_a_browser_offer_parses_into_its_sections_and_codecs() -> None:
    parsed = parse_offer(offer(), Purpose.PUBLISH)
    audio, video = parsed.sections
    assert (audio.kind, audio.mid, audio.direction) == ("audio", "0", "sendonly")
    assert [c.name for c in audio.codecs] == ["opus", "red", "G722", "PCMU", "PCMA"]
    assert audio.codecs[0].fmtp == {"minptime": "10", "useinbandfec": "1"}
    assert audio.codecs[0].channels == 2
    assert sdp.video_codec_for_ingest(video) == "h264"
    assert set(parsed.flowing(Purpose.PUBLISH)) == {"audio", "video"}
    assert parsed.flowing(Purpose.PLAY) == {}


def test_line_endings_and_static_payload_types() -> None:
    parsed = parse(offer(crlf=False))
    assert [c.name for c in parsed.sections[0].codecs][-2:] == ["PCMU", "PCMA"]


def test_vp8_is_chosen_when_no_usable_h264_is_offered() -> None:
    # 104 is packetization-mode 0, 116 is High profile: neither can be received.
    video = parse_offer(offer(video="96 97 104 116"), Purpose.PUBLISH).sections[1]
    assert sdp.video_codec_for_ingest(video) == "vp8"


@pytest.mark.parametrize(("video", "codec"), [
    ("98 45", "vp9"), ("100 101", "vp9"), ("104 116 100 98", "vp9"), ("98 96", "vp8"),
    ("98 102", "h264"), ("37 45", None),
])
def test_vp9_is_chosen_when_neither_h264_nor_vp8_is_offered(video: str,
                                                            codec: str | None) -> None:
    section = parse(offer(video=video)).sections[1]
    assert sdp.video_codec_for_ingest(section) == codec


@pytest.mark.parametrize(("fmtp", "clock_rate", "supported"), [
    ({}, 90000, True), ({"profile-id": "0"}, 90000, True), ({"profile-id": "2"}, 90000, True),
    ({"profile-id": "1"}, 90000, False), ({"profile-id": "3"}, 90000, False),
    ({}, 48000, False),
])
def test_vp9_profiles(fmtp: dict[str, str], clock_rate: int, supported: bool) -> None:
    codec = sdp.RtpCodec(98, "VP9", clock_rate, fmtp=fmtp)
    assert sdp.vp9_supported(codec) is supported


def test_a_viewer_offer_is_validated_for_play() -> None:
    parsed = parse_offer(offer(direction="recvonly", video="102"), Purpose.PLAY)
    assert set(parsed.flowing(Purpose.PLAY)) == {"audio", "video"}
    with pytest.raises(SdpError, match="sends no audio or video"):
        parse_offer(offer(direction="recvonly"), Purpose.PUBLISH)
    with pytest.raises(SdpError, match="monitor relays H264"):
        parse_offer(offer(direction="recvonly", video="96 98"), Purpose.PLAY)


@pytest.mark.parametrize(("profile", "supported"), [
    ("42e01f", True), ("42001f", True), ("4de01f", True), ("4d001f", False),
    ("640034", False), ("xyz", False),
])
def test_h264_profiles(profile: str, supported: bool) -> None:
    codec = sdp.RtpCodec(102, "H264", 90000, fmtp={"packetization-mode": "1",
                                                   "profile-level-id": profile})
    assert sdp.h264_supported(codec) is supported


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"\xff\xfe", "not UTF-8"),
    (b"x" * (sdp.MAX_SDP_BYTES + 1), "larger than"),
    (b"v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "must start with v=0"),
    (b"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "no origin"),
    (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "no media"),
    (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nthis is not sdp\r\n", "line 3 is not of the form"),
    (b"v=0\r\no=- 1\r\nm=audio\r\n", "needs media, port, protocol"),
    (b"v=0\r\no=- 1\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n", "bad port"),
    (b"v=0\r\no=- 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF opus\r\n", "payload types must be numbers"),
    (b"v=0\r\no=- 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus\r\n",
     "malformed a=rtpmap"),
    (b"v=0\r\no=- 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:x opus/48000\r\n",
     "needs a payload type"),
    (b"v=0\r\no=- 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=recvonly\r\n",
     "more than one direction"),
])
def test_malformed_sdp_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        parse_offer(data, Purpose.PUBLISH)


def test_too_many_sections() -> None:
    text = b"v=0\r\no=- 1\r\n" + b"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" * 17
    with pytest.raises(SdpError, match="more than 16 media sections"):
        parse(text)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace(b"UDP/TLS/RTP/SAVPF", b"RTP/AVP"), "needs DTLS-SRTP"),
    (lambda t: t.replace(b"a=ice-pwd", b"a=x-ice-pwd"), "no ICE credentials"),
    (lambda t: t.replace(b"a=fingerprint", b"a=x-fingerprint"), "no DTLS fingerprint"),
    (lambda t: t.replace(b"opus/48000", b"speex/48000"), "audio codecs offered .* opus"),
    (lambda t: t + t[t.index(b"m=video"):], "2 video sections"),
])
def test_offers_that_cannot_work_are_refused(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(SdpError, match=message):
        parse_offer(change(offer()), Purpose.PUBLISH)


def test_video_without_a_supported_codec_names_what_was_offered() -> None:
    # 37 is VP9 profile 1 (4:4:4), which no browser sends and we do not take.
    with pytest.raises(SdpError, match=r"video codecs offered \(AV1, VP9\).* VP9 \(profile-id"):
        parse_offer(offer(video="37 45"), Purpose.PUBLISH)


def test_session_level_attributes_are_inherited() -> None:
    text = (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\n"
            b"a=ice-pwd:0123456789012345678901\r\na=fingerprint:sha-256 AA:BB\r\na=sendonly\r\n"
            b"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
            b"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n")
    parsed = parse_offer(text, Purpose.PUBLISH)
    audio = parsed.sections[0]
    assert (audio.ice_ufrag, audio.direction, audio.fingerprint) == ("abcd", "sendonly",
                                                                       "sha-256 AA:BB")
    assert set(parsed.flowing(Purpose.PUBLISH)) == {"audio"}


def test_disabled_and_inactive_sections_carry_nothing() -> None:
    disabled = offer().replace(b"m=video 53921", b"m=video 0")
    assert set(parse_offer(disabled, Purpose.PUBLISH).flowing(Purpose.PUBLISH)) == {"audio"}
    inactive = offer(direction="inactive")
    with pytest.raises(SdpError, match="sends no audio or video"):
        parse_offer(inactive, Purpose.PUBLISH)
