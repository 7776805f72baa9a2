"""The sending side of VP9 over RTP (RFC 9628) for tests and the WHIP benchmark: real VP9
frames, a descriptor writer, a packetizer, and a libvpx-vp9 encoder that aiortc's sender can use
(aiortc 1.16 has none), so an aiortc peer can publish VP9 as a browser does."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.codecs.base import Encoder
from aiortc.mediastreams import VIDEO_TIME_BASE, convert_timebase
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.frame import Frame
from av.packet import Packet

from courtcast.ingest.whip.vp9 import (
    Descriptor,
    GroupPicture,
    LayerIndices,
    Scalability,
)

MTU = 1200  # payload bytes, as browsers keep RTP packets under the path MTU
_GET_ENCODER = "get_encoder"  # what aiortc's sender calls for a codec's encoder
Frames = list[tuple[bytes, bool]]  # (frame, keyframe) in decoding order


def libvpx_frames(count: int, width: int = 320, height: int = 240,
                  keyframes: tuple[int, ...] = ()) -> Frames:
    """Real-time VP9 as a browser encodes it, with forced keyframes at `keyframes`."""
    encoder: Any = av.CodecContext.create("libvpx-vp9", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 90000)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = np.random.default_rng(9)
    out: Frames = []
    for index in range(count):
        picture = np.roll(rng.integers(0, 256, (height, width, 3), dtype=np.uint8) // 4
                          + np.uint8(index * 9), index * 3, axis=1)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index * 3000
        frame.pict_type = av.video.frame.PictureType.I if index in keyframes \
            else av.video.frame.PictureType.NONE
        out += [(bytes(p), bool(p.is_keyframe)) for p in encoder.encode(frame)]
    return out


def ffmpeg_frames(target: Path, *args: str, passes: tuple[str, ...] = ("",)) -> Frames:
    """VP9 from the ffmpeg CLI (its libvpx has 10-bit and two-pass alt-refs; PyAV's has not)."""
    for number in passes:
        two_pass = ["-pass", number, "-passlogfile", str(target.with_suffix(""))] if number \
            else []
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=160x120:rate=30", "-c:v", "libvpx-vp9", *two_pass, *args,
                        "-f", "ivf", str(target)], check=True, timeout=120)
    with av.open(str(target)) as container:
        return [(bytes(p), bool(p.is_keyframe)) for p in container.demux(video=0) if p.size]


def _flag(value: object, shift: int) -> int:
    return int(bool(value)) << shift


def write_scalability(ss: Scalability) -> bytes:
    out = bytearray([(ss.spatial_layers - 1) << 5 | _flag(ss.resolutions, 4)
                     | _flag(ss.picture_group is not None, 3)])
    for width, height in ss.resolutions:
        out += width.to_bytes(2, "big") + height.to_bytes(2, "big")
    if ss.picture_group is not None:
        out.append(len(ss.picture_group))
        for entry in ss.picture_group:
            out.append(entry.temporal_id << 5 | _flag(entry.switching_up, 4)
                       | len(entry.references) << 2)
            out += bytes(entry.references)
    return bytes(out)


def write_descriptor(d: Descriptor, *, long_id: bool = True) -> bytes:
    """The inverse of `vp9.parse_descriptor` (`size` is ignored)."""
    out = bytearray([_flag(d.picture_id is not None, 7) | _flag(d.inter_predicted, 6)
                     | _flag(d.layer, 5) | _flag(d.flexible, 4) | _flag(d.begins_frame, 3)
                     | _flag(d.ends_frame, 2) | _flag(d.scalability, 1)
                     | _flag(d.not_upper_reference, 0)])
    if d.picture_id is not None:
        out += bytes([0x80 | d.picture_id >> 8, d.picture_id & 0xFF]) if long_id \
            else bytes([d.picture_id])
    if d.layer is not None:
        layer = d.layer
        out.append(layer.temporal_id << 5 | _flag(layer.switching_up, 4)
                   | layer.spatial_id << 1 | _flag(layer.inter_layer_dependency, 0))
        if not d.flexible:
            out.append(layer.tl0_pic_idx or 0)
    if d.flexible and d.inter_predicted:
        last = len(d.references) - 1
        out += bytes(diff << 1 | _flag(n < last, 0) for n, diff in enumerate(d.references))
    if d.scalability is not None:
        out += write_scalability(d.scalability)
    return bytes(out)


def _layer_descriptor(sid: int, count: int, picture_id: int, keyframe: bool, flexible: bool,
                      sizes: tuple[tuple[int, int], ...], with_layers: bool) -> Descriptor:
    inter = not keyframe
    layer = LayerIndices(0, False, sid, sid > 0, None if flexible else picture_id & 0xFF) \
        if with_layers else None
    ss = None
    if keyframe and sid == 0:
        group = None if flexible else (GroupPicture(0, False, (1,)),)
        ss = Scalability(count, sizes, group)
    return Descriptor(inter_predicted=inter, flexible=flexible, begins_frame=True,
                      ends_frame=False, not_upper_reference=sid == count - 1,
                      picture_id=picture_id, layer=layer,
                      references=(1,) if flexible and inter else (), scalability=ss)


def _split(frame: bytes, first: Descriptor, mtu: int, long_id: bool) -> list[bytes]:
    later = replace(first, begins_frame=False, scalability=None)
    payloads: list[bytes] = []
    pos = 0
    while pos < len(frame) or not payloads:
        described = first if not payloads else later
        end = pos + mtu - len(write_descriptor(described, long_id=long_id))
        described = replace(described, ends_frame=end >= len(frame))
        payloads.append(write_descriptor(described, long_id=long_id) + frame[pos:end])
        pos = end
    return payloads


def packetize(frames: list[bytes], picture_id: int, *, keyframe: bool, flexible: bool = False,
              mtu: int = MTU, sizes: tuple[tuple[int, int], ...] = (),
              with_layers: bool = True, long_id: bool = True) -> list[bytes]:
    """One picture's payloads: each of `frames` is a layer frame (spatial layer 0, 1, ...)."""
    out: list[bytes] = []
    for sid, frame in enumerate(frames):
        first = _layer_descriptor(sid, len(frames), picture_id, keyframe, flexible, sizes,
                                  with_layers)
        out += _split(frame, first, mtu, long_id)
    return out


class Vp9Encoder(Encoder):
    """libvpx-vp9 in real-time mode, one spatial layer, non-flexible mode (as Chromium sends)."""

    def __init__(self) -> None:
        self.codec: Any = None
        self.picture_id = 0
        self.target_bitrate = 1_000_000  # aiortc's sender sets it from REMB

    def _open(self, frame: Any) -> Any:
        codec: Any = av.CodecContext.create("libvpx-vp9", "w")
        codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "yuv420p"
        codec.time_base, codec.bit_rate = Fraction(1, 90000), self.target_bitrate
        codec.gop_size = 3000
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                         "row-mt": "1", "threads": "2"}
        return codec

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        video: Any = frame
        if video.format.name != "yuv420p":
            video = video.reformat(format="yuv420p")
        if self.codec is None:
            self.codec = self._open(video)
        video.pict_type = av.video.frame.PictureType.I if force_keyframe \
            else av.video.frame.PictureType.NONE
        timestamp = convert_timebase(frame.pts or 0, frame.time_base or VIDEO_TIME_BASE,
                                     VIDEO_TIME_BASE)
        video.pts, video.time_base = timestamp, VIDEO_TIME_BASE
        payloads: list[bytes] = []
        for packet in self.codec.encode(video):
            payloads += self._packetize(bytes(packet), bool(packet.is_keyframe))
        return payloads, timestamp

    def pack(self, packet: Packet[Any]) -> tuple[list[bytes], int]:
        timestamp = convert_timebase(packet.pts or 0, packet.time_base or VIDEO_TIME_BASE,
                                     VIDEO_TIME_BASE)
        return self._packetize(bytes(packet), bool(packet.is_keyframe)), timestamp

    def _packetize(self, frame: bytes, keyframe: bool) -> list[bytes]:
        sizes = ((self.codec.width, self.codec.height),) if self.codec is not None else ()
        payloads = packetize([frame], self.picture_id, keyframe=keyframe, sizes=sizes)
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        return payloads


def vp9_encoders(original: Callable[[RTCRtpCodecParameters], Encoder]
                 ) -> Callable[[RTCRtpCodecParameters], Encoder]:
    """A stand-in for aiortc's `get_encoder` that also knows VP9."""
    def get_encoder(codec: RTCRtpCodecParameters) -> Encoder:
        return Vp9Encoder() if codec.mimeType.lower() == "video/vp9" else original(codec)

    return get_encoder


def install_vp9_encoder() -> None:
    """Let this process's aiortc senders encode VP9 (call before any sender starts)."""
    import aiortc.rtcrtpsender as sender

    setattr(sender, _GET_ENCODER, vp9_encoders(getattr(sender, _GET_ENCODER)))
