"""Pure parsing and validation of the SDP offers WHIP publishers and WHEP viewers send.

aiortc parses SDP too, but it accepts much that cannot work and fails late or obscurely on the
rest. Checking the offer here first gives clients a 400 that says what is wrong (no ICE
credentials, plain RTP, no codec we can take) before any peer connection or publisher slot
is spent on it. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

MAX_SDP_BYTES: Final = 64 * 1024
MAX_MEDIA_SECTIONS: Final = 16
_LINE: Final = re.compile(r"^([a-z])=(.*)$")
_DIRECTIONS: Final = frozenset(("sendrecv", "sendonly", "recvonly", "inactive"))
# Payload types with a static meaning (RFC 3551) that offers may use without an rtpmap.
_STATIC_TYPES: Final = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1)}
# VP9 profiles taken, preferred first: 0 (8-bit 4:2:0, what browsers send) and 2 (10/12-bit
# 4:2:0), which FFmpeg's vp9 decoder decodes and the transcoder reformats to 8-bit yuv420p for
# x264 (both tested). Profiles 1 and 3 (4:2:2/4:4:4) are left out: no browser sends them.
VP9_PROFILES: Final = ("0", "2")


class SdpError(ValueError):
    """The offer is malformed or cannot be served; the message is for the client."""


class Purpose(StrEnum):
    PUBLISH = "publish"  # WHIP: the client sends media
    PLAY = "play"  # WHEP: the client receives media


@dataclass(frozen=True, slots=True)
class RtpCodec:
    payload_type: int
    name: str  # as in the rtpmap, e.g. "H264", "VP8", "VP9", "opus"
    clock_rate: int
    channels: int = 1
    fmtp: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Lower-case codec name, "h264", "vp8", "vp9", "opus"..."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class MediaSection:
    kind: str  # "audio", "video", "application", ...
    port: int
    protocol: str
    mid: str
    direction: str
    codecs: tuple[RtpCodec, ...]
    ice_ufrag: str
    ice_pwd: str
    fingerprint: str

    @property
    def active(self) -> bool:
        return self.port != 0 and self.direction != "inactive"

    def sends(self) -> bool:
        """Media flows from the offerer (the WHIP client) in this section."""
        return self.active and self.direction in ("sendonly", "sendrecv")

    def receives(self) -> bool:
        return self.active and self.direction in ("recvonly", "sendrecv")


@dataclass(frozen=True, slots=True)
class Offer:
    sections: tuple[MediaSection, ...]

    def flowing(self, purpose: Purpose) -> dict[str, MediaSection]:
        """The audio/video sections that carry media for `purpose`, by kind."""
        return {s.kind: s for s in self.sections if flows(s, purpose)}


# --- codecs we can take ------------------------------------------------------------------------


def h264_supported(codec: RtpCodec) -> bool:
    """Non-interleaved H.264 in a (constrained) baseline profile, as aiortc negotiates it."""
    if codec.key != "h264" or codec.fmtp.get("packetization-mode", "0") != "1":
        return False
    profile = codec.fmtp.get("profile-level-id", "42e01f")  # RFC 6184 default: baseline
    if not re.fullmatch(r"[0-9a-fA-F]{6}", profile):
        return False
    idc, constraints = int(profile[0:2], 16), int(profile[2:4], 16)
    # Baseline (0x42), or Main/Extended carrying the constraint flag that makes them
    # decodable as constrained baseline (RFC 6184 section 8.1).
    return idc == 0x42 or (idc in (0x4D, 0x58) and bool(constraints & 0x80))


def vp9_supported(codec: RtpCodec) -> bool:
    """VP9 in one of `VP9_PROFILES` (RFC 9628: no profile-id means profile 0)."""
    return codec.key == "vp9" and codec.clock_rate == 90000 \
        and codec.fmtp.get("profile-id", "0") in VP9_PROFILES


def video_codec_for_ingest(section: MediaSection) -> str | None:
    """What the publisher will send: H.264 (passed through) when offered, else VP8, else VP9
    (both transcoded to H.264). The order is `peer.h264_first`'s."""
    if any(h264_supported(c) for c in section.codecs):
        return "h264"
    if any(c.key == "vp8" and c.clock_rate == 90000 for c in section.codecs):
        return "vp8"
    if any(vp9_supported(c) for c in section.codecs):
        return "vp9"
    return None


def opus_offered(section: MediaSection) -> bool:
    return any(c.key == "opus" and c.clock_rate == 48000 for c in section.codecs)


# --- parsing -----------------------------------------------------------------------------------


def _lines(data: bytes) -> list[tuple[str, str]]:
    if len(data) > MAX_SDP_BYTES:
        raise SdpError(f"the SDP offer is larger than {MAX_SDP_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("the SDP offer is not UTF-8 text") from None
    raw = [line for line in re.split(r"\r?\n", text) if line.strip()]
    if not raw:
        raise SdpError("the SDP offer is empty")
    lines: list[tuple[str, str]] = []
    for number, line in enumerate(raw, start=1):
        match = _LINE.match(line)
        if match is None:
            raise SdpError(f"SDP line {number} is not of the form x=value: {line[:60]!r}")
        lines.append((match.group(1), match.group(2)))
    if lines[0] != ("v", "0"):
        raise SdpError("an SDP offer must start with v=0")
    if not any(kind == "o" for kind, _ in lines):
        raise SdpError("the SDP offer has no origin (o=) line")
    return lines


def _split_sections(lines: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    blocks: list[list[tuple[str, str]]] = [[]]
    for kind, value in lines:
        if kind == "m":
            blocks.append([])
        blocks[-1].append((kind, value))
    if len(blocks) == 1:
        raise SdpError("the SDP offer has no media (m=) sections")
    if len(blocks) - 1 > MAX_MEDIA_SECTIONS:
        raise SdpError(f"the SDP offer has more than {MAX_MEDIA_SECTIONS} media sections")
    return blocks


def _attributes(block: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for kind, value in block:
        if kind == "a":
            name, _, rest = value.partition(":")
            out.append((name, rest))
    return out


def _first(attributes: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in attributes if key == name), "")


def _parse_fmtp(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if key:
            params[key.strip().lower()] = value.strip() if sep else ""
    return params


def _parse_codecs(
    formats: list[str], attributes: list[tuple[str, str]], index: int
) -> tuple[RtpCodec, ...]:
    maps: dict[int, tuple[str, int, int]] = {}
    fmtps: dict[int, dict[str, str]] = {}
    for name, value in attributes:
        if name not in ("rtpmap", "fmtp"):
            continue
        pt_text, _, rest = value.partition(" ")
        if not pt_text.isdigit():
            raise SdpError(f"media section {index}: a={name} needs a payload type: {value!r}")
        if name == "fmtp":
            fmtps[int(pt_text)] = _parse_fmtp(rest)
            continue
        match = re.fullmatch(r"([\w.-]+)/(\d+)(?:/(\d+))?", rest.strip())
        if match is None:
            raise SdpError(f"media section {index}: malformed a=rtpmap:{value!r}")
        maps[int(pt_text)] = (match.group(1), int(match.group(2)), int(match.group(3) or 1))
    codecs = []
    for fmt in formats:
        payload_type = int(fmt)
        known = maps.get(payload_type) or _STATIC_TYPES.get(payload_type)
        if known is not None:
            codecs.append(RtpCodec(payload_type, *known, fmtp=fmtps.get(payload_type, {})))
    return tuple(codecs)


def _parse_section(
    block: list[tuple[str, str]], session: list[tuple[str, str]], index: int
) -> MediaSection:
    fields = block[0][1].split()
    if len(fields) < 4:
        raise SdpError(f"media section {index}: m= needs media, port, protocol and formats")
    kind, port_text, protocol, formats = fields[0], fields[1], fields[2], fields[3:]
    port = port_text.split("/")[0]
    if not port.isdigit() or int(port) > 65535:
        raise SdpError(f"media section {index}: bad port {port_text!r}")
    rtp = "RTP/" in protocol
    if rtp and not all(f.isdigit() and int(f) < 128 for f in formats):
        raise SdpError(f"media section {index}: RTP payload types must be numbers below 128")
    attributes = _attributes(block)
    directions = [name for name, _ in attributes if name in _DIRECTIONS]
    if len(directions) > 1:
        raise SdpError(f"media section {index}: more than one direction attribute")
    session_direction = next((n for n, _ in session if n in _DIRECTIONS), "sendrecv")

    def inherited(name: str) -> str:
        return _first(attributes, name) or _first(session, name)

    return MediaSection(
        kind=kind,
        port=int(port),
        protocol=protocol,
        mid=_first(attributes, "mid"),
        direction=directions[0] if directions else session_direction,
        codecs=_parse_codecs(formats, attributes, index) if rtp else (),
        ice_ufrag=inherited("ice-ufrag"),
        ice_pwd=inherited("ice-pwd"),
        fingerprint=inherited("fingerprint"),
    )


def parse(data: bytes) -> Offer:
    """Parse an SDP description into its media sections; raises `SdpError` if malformed."""
    blocks = _split_sections(_lines(data))
    session = _attributes(blocks[0])
    sections = tuple(
        _parse_section(block, session, index) for index, block in enumerate(blocks[1:], 1)
    )
    return Offer(sections)


# --- validation --------------------------------------------------------------------------------


def _check_transport(section: MediaSection, index: int) -> None:
    if "SAVP" not in section.protocol:
        raise SdpError(f"media section {index} uses {section.protocol}; WebRTC needs "
                       "DTLS-SRTP (UDP/TLS/RTP/SAVPF)")
    if not section.ice_ufrag or not section.ice_pwd:
        raise SdpError(f"media section {index} has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
    if not section.fingerprint:
        raise SdpError(f"media section {index} has no DTLS fingerprint (a=fingerprint)")


def _check_codecs(section: MediaSection, purpose: Purpose) -> None:
    offered = ", ".join(sorted({c.name for c in section.codecs})) or "none"
    if section.kind == "audio" and not opus_offered(section):
        raise SdpError(f"audio codecs offered ({offered}) are not supported: offer opus/48000")
    if section.kind != "video":
        return
    if purpose is Purpose.PLAY and not any(h264_supported(c) for c in section.codecs):
        raise SdpError(f"video codecs offered ({offered}) are not supported: the monitor "
                       "relays H264 (packetization-mode=1, constrained baseline)")
    if purpose is Purpose.PUBLISH and video_codec_for_ingest(section) is None:
        raise SdpError(f"video codecs offered ({offered}) are not supported: offer H264 "
                       "(packetization-mode=1, constrained baseline), VP8 or VP9 "
                       "(profile-id 0 or 2)")


def flows(section: MediaSection, purpose: Purpose) -> bool:
    """Audio or video that moves the way `purpose` needs (to us for WHIP, from us for WHEP)."""
    if section.kind not in ("audio", "video"):
        return False
    return section.sends() if purpose is Purpose.PUBLISH else section.receives()


def validate(offer: Offer, purpose: Purpose) -> Offer:
    """Check that an offer can be served for `purpose`; returns it, or raises `SdpError`."""
    wanted = [(i, s) for i, s in enumerate(offer.sections, 1) if flows(s, purpose)]
    if not wanted:
        verb = "sends" if purpose is Purpose.PUBLISH else "receives"
        raise SdpError(f"the offer {verb} no audio or video (check a=sendonly/a=recvonly)")
    for kind in ("audio", "video"):
        count = sum(1 for _, s in wanted if s.kind == kind)
        if count > 1:
            raise SdpError(f"the offer has {count} {kind} sections; use one audio and one video")
    for index, section in wanted:
        _check_transport(section, index)
        _check_codecs(section, purpose)
    return offer


def parse_offer(data: bytes, purpose: Purpose) -> Offer:
    """Parse and validate in one step: what a WHIP/WHEP endpoint does with a POST body."""
    return validate(parse(data), purpose)
