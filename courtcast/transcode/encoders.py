"""PyAV encoders whose output is protocol-neutral `MediaPacket`s for the `Segmenter`.

libx264 writes Annex B (start codes); the media contract is AVCC with an avcC record, so the
parameter sets are repackaged once and every packet's NAL units get length prefixes. Keyframes
are placed only by the caller (`force_keyframe`): scene-cut detection and the encoder's own GOP
are off, so every rendition encoded from the same frames has keyframes at the same instants.
There are no B-frames: dts = pts, which lets the caller give all renditions the source's
decoding delay (see `RenditionEngine`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.ladder import VideoTarget

VIDEO_TIME_BASE = Fraction(1, 90000)
GLOBAL_HEADER = 1 << 22  # AV_CODEC_FLAG_GLOBAL_HEADER: parameter sets in extradata
NAL_SPS, NAL_PPS = 7, 8


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    preset: str = "veryfast"
    threads: int = 1  # per encoder: hearings already run in parallel, one thread each
    max_gop: float = 4.0  # seconds without a source keyframe before one is forced anyway
    audio_bitrate: int = 96_000


# --- Annex B -> AVCC -------------------------------------------------------------------------


def split_annexb(data: bytes) -> Iterator[bytes]:
    """NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    starts: list[tuple[int, int]] = []  # (start code offset, payload offset)
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        begin = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        starts.append((begin, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    for index, (_begin, payload) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(data)
        if end > payload:
            yield data[payload:end]


def annexb_to_avcc(data: bytes) -> bytes:
    return b"".join(len(nal).to_bytes(4, "big") + nal for nal in split_annexb(data))


def avcc_record(extradata: bytes) -> bytes:
    """AVCDecoderConfigurationRecord from Annex B SPS/PPS (libx264's global header)."""
    nals = list(split_annexb(extradata))
    sps = [n for n in nals if n[0] & 0x1F == NAL_SPS]
    pps = [n for n in nals if n[0] & 0x1F == NAL_PPS]
    if not sps or not pps:
        raise ValueError("encoder extradata lacks an SPS or PPS")
    record = bytearray([1, sps[0][1], sps[0][2], sps[0][3], 0xFF, 0xE0 | len(sps)])
    for nal in sps:
        record += len(nal).to_bytes(2, "big") + nal
    record.append(len(pps))
    for nal in pps:
        record += len(nal).to_bytes(2, "big") + nal
    return bytes(record)


# --- video ---------------------------------------------------------------------------------------


class VideoEncoder:
    """libx264 at one rendition's size; frames in, AVCC packets (90 kHz) out."""

    def __init__(self, target: VideoTarget, frame_rate: float, settings: EncoderSettings) -> None:
        ctx: Any = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height = target.width, target.height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = VIDEO_TIME_BASE
        ctx.framerate = Fraction(frame_rate or 25).limit_denominator(1001)
        ctx.bit_rate = target.bitrate
        ctx.gop_size = 1 << 20  # keyframes only where the caller forces them
        ctx.max_b_frames = 0
        ctx.thread_count = settings.threads
        ctx.flags |= GLOBAL_HEADER
        ctx.options = {
            "preset": settings.preset,
            "profile": "high",
            "forced-idr": "1",
            "sc_threshold": "0",
            "maxrate": str(target.bitrate * 6 // 5),
            "bufsize": str(target.bitrate * 2),
            "x264-params": "scenecut=0:open-gop=0",
        }
        ctx.open()
        self._ctx = ctx
        self.target = target
        self.track = TrackInfo(
            TrackKind.VIDEO,
            "h264",
            avcc_record(bytes(ctx.extradata)),
            time_base=VIDEO_TIME_BASE,
            width=target.width,
            height=target.height,
            frame_rate=float(ctx.framerate),
            bit_rate=target.bitrate,
        )

    def encode(self, frame: Any, pts: int, keyframe: bool) -> list[MediaPacket]:
        """`frame` (yuv420p at the target size) at `pts` in 1/90000; it is modified."""
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        return [self._packet(p) for p in self._ctx.encode(frame)]

    def flush(self) -> list[MediaPacket]:
        """The last packets; a flushed encoder takes no more frames (make a new one)."""
        return [self._packet(p) for p in self._ctx.encode(None)]

    def _packet(self, packet: Any) -> MediaPacket:
        return MediaPacket(
            TrackKind.VIDEO,
            packet.dts,
            packet.pts,
            annexb_to_avcc(bytes(packet)),
            bool(packet.is_keyframe),
            VIDEO_TIME_BASE,
        )


# --- audio ---------------------------------------------------------------------------------------


class AudioEncoder:
    """AAC-LC of normalized frames (fltp, 1024 samples, pts in 1/rate) from `AudioDecoder`."""

    def __init__(self, rate: int, channels: int, bitrate: int) -> None:
        ctx: Any = av.CodecContext.create("aac", "w")
        ctx.sample_rate = rate
        ctx.layout = "mono" if channels == 1 else "stereo"
        ctx.format = "fltp"
        ctx.bit_rate = bitrate if channels > 1 else bitrate * 2 // 3
        ctx.time_base = Fraction(1, rate)
        ctx.flags |= GLOBAL_HEADER
        ctx.open()
        self._ctx = ctx
        self.time_base = Fraction(1, rate)
        self.track = TrackInfo(
            TrackKind.AUDIO,
            "aac",
            bytes(ctx.extradata),
            time_base=self.time_base,
            sample_rate=rate,
            channels=channels,
            bit_rate=ctx.bit_rate,
        )

    def encode(self, frame: Any) -> list[MediaPacket]:
        return [self._packet(p) for p in self._ctx.encode(frame)]

    def flush(self) -> list[MediaPacket]:
        """The last packets; a flushed encoder takes no more frames (make a new one)."""
        return [self._packet(p) for p in self._ctx.encode(None)]

    def _packet(self, packet: Any) -> MediaPacket:
        return MediaPacket(
            TrackKind.AUDIO, packet.dts, packet.pts, bytes(packet), True, self.time_base
        )
