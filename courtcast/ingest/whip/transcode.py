"""PyAV transcoders for what WebRTC brings and HLS cannot use, and back for the monitor.

- VP8 or VP9 -> H.264 (libx264, zero latency, a forced IDR every segment so segments cut on
  time),
- Opus -> AAC-LC (HLS: Safari's native player and hls.js on Safari take AAC in fMP4; Opus
  there is recent and patchy, and RTMP hearings are AAC, so a protocol switch keeps the codec),
- AAC -> Opus for the WHEP monitor (once per hearing, shared by every viewer).

Each is synchronous and CPU-bound; `Offload` runs one in a worker thread of its own so the
event loop never waits on a codec.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Generic, TypeVar

import av

log = logging.getLogger("courtcast.ingest.whip")

VIDEO_RATE: Final = 90000
AUDIO_RATE: Final = 48000
VIDEO_TIME_BASE: Final = Fraction(1, VIDEO_RATE)
AUDIO_TIME_BASE: Final = Fraction(1, AUDIO_RATE)
AAC_BIT_RATE: Final = 96_000
OPUS_BIT_RATE: Final = 64_000
OPUS_FRAME: Final = 960  # 20 ms, what WebRTC peers expect
NOMINAL_FPS: Final = Fraction(30)  # WebRTC frame rates vary; timestamps stay exact


@dataclass(frozen=True, slots=True)
class Encoded:
    """One coded frame out of a transcoder; `pts` in the transcoder's output time base."""

    data: bytes
    pts: int
    keyframe: bool = False


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


class VpxToH264:
    """Decodes VP8 (or VP9: `codec="vp9"`) and encodes H.264 Annex-B, 8-bit 4:2:0 whatever the
    input's depth (VP9 profile 2 is 10-bit), at the largest picture size seen so far.

    Browsers start small while their bandwidth estimate ramps up (and SVC publishers start with
    the base layer), then send the camera's full size; later they shrink again under load. The
    output grows with them (a new encoder: new SPS, which the pipeline takes as a new
    configuration) but never shrinks, so a hearing gets its full picture and few changes.
    """

    def __init__(self, keyframe_interval: float = 2.0, *, codec: str = "vp8",
                 bit_rate: int = 0) -> None:
        self._decoder: Any = av.CodecContext.create(codec, "r")
        self._encoder: Any = None
        self._interval = round(keyframe_interval * VIDEO_RATE)
        self._last_key: int | None = None
        self._bit_rate = bit_rate

    def transcode(self, data: bytes, pts: int) -> list[Encoded]:
        """One VP8/VP9 frame (90 kHz `pts`) in, the H.264 frames it completes out."""
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = VIDEO_TIME_BASE
        frames = self._decoder.decode(packet)
        # A VP9 superframe of spatial layers shows each layer: the last is the whole picture.
        return self._encode(frames[-1], pts) if frames else []

    def _open(self, width: int, height: int) -> Any:
        encoder: Any = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = width & ~1, height & ~1
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = VIDEO_TIME_BASE
        encoder.framerate = NOMINAL_FPS  # x264 derives level and rate control from it
        # zerolatency: no B-frames and no lookahead, so a frame leaves as soon as it came in.
        options = {"preset": "veryfast", "tune": "zerolatency", "profile": "baseline",
                   "g": "600", "forced-idr": "1", "threads": "2", "crf": "23"}
        if self._bit_rate:
            options |= {"maxrate": str(self._bit_rate), "bufsize": str(self._bit_rate)}
        encoder.options = options
        return encoder

    def _encode(self, frame: Any, pts: int) -> list[Encoded]:
        out: list[Encoded] = []
        if self._encoder is None or self._grows(frame):
            out = self._drain()
            self._encoder = self._open(frame.width, frame.height)
            self._last_key = None  # a new encoder starts with an IDR
        encoder = self._encoder
        if (frame.width, frame.height) != (encoder.width, encoder.height) \
                or frame.format.name != "yuv420p":
            frame = frame.reformat(encoder.width, encoder.height, "yuv420p")
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        due = self._last_key is None or pts - self._last_key >= self._interval
        frame.pict_type = av.video.frame.PictureType.I if due else \
            av.video.frame.PictureType.NONE
        out += self._coded(encoder.encode(frame))
        return out

    def _grows(self, frame: Any) -> bool:
        width, height = int(frame.width) & ~1, int(frame.height) & ~1
        return width * height > int(self._encoder.width * self._encoder.height)

    def _drain(self) -> list[Encoded]:
        """What the current encoder still holds (zerolatency: normally nothing)."""
        if self._encoder is None:
            return []
        return self._coded(self._encoder.encode(None))

    def _coded(self, packets: Any) -> list[Encoded]:
        out = [Encoded(bytes(p), int(p.pts), bool(p.is_keyframe)) for p in packets]
        for encoded in out:
            if encoded.keyframe:
                self._last_key = encoded.pts
        return out


def _audio_encoder(name: str, sample_format: str, layout: str, bit_rate: int,
                   options: dict[str, str] | None = None) -> Any:
    encoder: Any = av.CodecContext.create(name, "w")
    encoder.sample_rate, encoder.layout, encoder.format = AUDIO_RATE, layout, sample_format
    encoder.bit_rate, encoder.time_base = bit_rate, AUDIO_TIME_BASE
    encoder.options = options or {}
    encoder.open()
    return encoder


class _AudioRecoder:
    """Decode, resample to the encoder's frame size, encode: one coded frame in, some out."""

    def __init__(self, decoder: Any, encoder: Any, frame_size: int) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._resampler = av.AudioResampler(encoder.format.name, encoder.layout.name,
                                            AUDIO_RATE, frame_size=frame_size)

    def transcode(self, data: bytes, pts: int,
                  time_base: Fraction = AUDIO_TIME_BASE) -> list[Encoded]:
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = time_base
        return [Encoded(bytes(p), int(p.pts), True) for frame in self._decoder.decode(packet)
                for chunk in self._resampler.resample(frame) for p in self._encoder.encode(chunk)]


class OpusToAac(_AudioRecoder):
    """Decodes Opus (48 kHz, as WebRTC signals it) and encodes AAC-LC, 1024 samples a frame."""

    def __init__(self, channels: int = 2, bit_rate: int = AAC_BIT_RATE) -> None:
        decoder: Any = av.CodecContext.create("opus", "r")
        decoder.sample_rate, decoder.layout = AUDIO_RATE, _layout(channels)
        super().__init__(decoder, _audio_encoder("aac", "fltp", _layout(channels), bit_rate),
                         1024)
        self.channels = channels

    @property
    def extradata(self) -> bytes:
        """The AudioSpecificConfig, known as soon as the encoder is open."""
        return bytes(self._encoder.extradata or b"")


class AacToOpus(_AudioRecoder):
    """Decodes the hearing's AAC and encodes 20 ms Opus frames for WebRTC viewers."""

    def __init__(self, extradata: bytes, sample_rate: int = 0, channels: int = 0) -> None:
        decoder: Any = av.CodecContext.create("aac", "r")
        decoder.extradata = extradata or None
        if sample_rate:
            decoder.sample_rate = sample_rate
        if channels:
            decoder.layout = _layout(channels)
        options = {"application": "lowdelay", "frame_duration": "20"}
        super().__init__(decoder, _audio_encoder("libopus", "s16", "stereo", OPUS_BIT_RATE,
                                                 options), OPUS_FRAME)


T = TypeVar("T")


class Offload(Generic[T]):
    """Runs calls in order on one worker thread and hands results back on the event loop.

    `submit()` never blocks; results reach `deliver` in submission order. Work queues up while
    the codec is busy; beyond `max_pending` new work is refused (`submit` returns False), so a
    publisher that outruns the CPU skips frames instead of growing memory without bound.
    """

    def __init__(self, name: str, deliver: Callable[[T], None], *, max_pending: int = 120) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._name = name
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()
        self._pending = 0
        self._max_pending = max_pending
        self._closed = False
        self.dropped = 0
        self.failures = 0

    def submit(self, work: Callable[[], T]) -> bool:
        if self._closed:
            return False
        if self._pending >= self._max_pending:
            self.dropped += 1
            return False
        self._pending += 1
        future = self._loop.run_in_executor(self._executor, work)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: asyncio.Future[T]) -> None:
        self._pending -= 1
        if self._closed or future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # A corrupt frame: the codec carries on with the next one.
            self.failures += 1
            log.debug("%s: a frame failed: %s", self._name, error)
            return
        self._deliver(future.result())

    async def drain(self) -> None:
        """Wait until everything submitted so far has been delivered."""
        await self._loop.run_in_executor(self._executor, lambda: None)
        await asyncio.sleep(0)  # let the done-callbacks of earlier work run

    async def close(self) -> None:
        await self.drain()
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
