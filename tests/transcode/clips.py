"""Real media for the transcode tests: clips made by the ffmpeg CLI, demuxed into MediaPackets,
and ffprobe checks of what the segmenter wrote."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from courtcast.media import MediaPacket, TrackInfo, TrackKind
from courtcast.transcode.segmenter import SegmentOutput
from tests.helpers import ffprobe_json

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")


@dataclass(frozen=True)
class Clip:
    path: Path
    tracks: tuple[TrackInfo, ...]
    packets: tuple[MediaPacket, ...]

    def track(self, kind: TrackKind) -> TrackInfo:
        return next(t for t in self.tracks if t.kind is kind)

    def only(self, kind: TrackKind) -> list[MediaPacket]:
        return [p for p in self.packets if p.kind is kind]


def make_clip(
    path: Path,
    *,
    size: str,
    seconds: float,
    rate: int = 25,
    gop: int = 50,
    audio: bool = True,
    vcodec: str = "libx264",
) -> Path:
    """An FLV (or MP4 for HEVC) with B-frames, like an RTMP publisher sends."""
    assert FFMPEG, "the ffmpeg CLI is needed (apt-get install ffmpeg)"
    args = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=440:sample_rate=44100", "-c:a", "aac", "-ac", "1"]
    args += ["-c:v", vcodec, "-preset", "veryfast", "-g", str(gop), "-bf", "2", "-t", str(seconds)]
    if vcodec == "libx265":
        args += ["-x265-params", "log-level=error", "-tag:v", "hvc1"]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


def load_clip(path: Path) -> Clip:
    """Demux with PyAV: FLV/MP4 H.264 packets are already AVCC and extradata is avcC."""
    with av.open(str(path)) as container:
        tracks = tuple(_track(s) for s in container.streams if s.type in ("video", "audio"))
        packets = tuple(_packet(p) for p in container.demux() if p.size)
    return Clip(path, tracks, packets)


def _track(stream: Any) -> TrackInfo:
    ctx = stream.codec_context
    if stream.type == "video":
        return TrackInfo(TrackKind.VIDEO, ctx.name, bytes(ctx.extradata or b""))
    return TrackInfo(
        TrackKind.AUDIO,
        ctx.name,
        bytes(ctx.extradata or b""),
        sample_rate=ctx.sample_rate,
        channels=ctx.channels,
    )


def _packet(packet: Any) -> MediaPacket:
    kind = TrackKind.VIDEO if packet.stream.type == "video" else TrackKind.AUDIO
    ms = packet.time_base * 1000  # to RTMP's millisecond clock
    return MediaPacket(
        kind,
        round(packet.dts * ms),
        round(packet.pts * ms),
        bytes(packet),
        bool(packet.is_keyframe),
    )


def shifted(packets: Sequence[MediaPacket], ms: int) -> list[MediaPacket]:
    return [replace(p, dts=p.dts + ms, pts=p.pts + ms) for p in packets]


def rescaled(packets: Sequence[MediaPacket], time_base: Fraction) -> list[MediaPacket]:
    scale = Fraction(1, 1000) / time_base
    return [
        replace(p, dts=round(p.dts * scale), pts=round(p.pts * scale), time_base=time_base)
        for p in packets
    ]


# --- checks with the real ffmpeg tools ------------------------------------------------------


def write_file(directory: Path, name: str, outputs: Sequence[SegmentOutput]) -> Path:
    """The init segment of the first output followed by all their media segments."""
    path = directory / name
    path.write_bytes(outputs[0].init + b"".join(o.data for o in outputs))
    return path


def probe_packets(path: Path, stream: str) -> list[dict[str, str]]:
    """ffprobe's view of one stream's packets (dts_time, pts_time, duration_time, flags)."""
    entries = "packet=dts_time,pts_time,duration_time,flags"
    packets: list[dict[str, str]] = ffprobe_json(
        path, "-select_streams", stream, "-show_entries", entries)["packets"]
    return packets


def probe_streams(path: Path) -> list[dict[str, Any]]:
    entries = "stream=codec_name,codec_tag_string,width,height,nb_read_frames,sample_rate,channels"
    streams: list[dict[str, Any]] = ffprobe_json(
        path, "-count_frames", "-show_entries", entries)["streams"]
    return streams


# --- inputs of every kind for the transcoder ------------------------------------------------


def make_media(path: Path, *args: str, seconds: float = 4.0) -> Path:
    """Run the ffmpeg CLI: `args` are its inputs and encoding options, `path` the output."""
    assert FFMPEG, "the ffmpeg CLI is needed (apt-get install ffmpeg)"
    command = [FFMPEG, "-v", "error", "-y", *args, "-t", str(seconds), str(path)]
    subprocess.run(command, check=True, timeout=300)
    return path


def lavfi_video(size: str = "320x180", rate: int = 25) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]


def lavfi_tone(rate: int = 44100) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f=440:sample_rate={rate}"]


MARKER_EVERY = 2.0  # seconds between the flash + beep markers of `marked_source`


def marked_source(size: str = "160x90", rate: int = 25, every: float = MARKER_EVERY) -> list[str]:
    """Black video with a one-frame white flash, and silence with a 40 ms beep, every `every`
    seconds at the same instant: where they land in an output measures A/V sync."""
    flash = f"drawbox=c=white:t=fill:enable='eq(mod(n\\,{round(every * rate)})\\,0)'"
    beep = f"volume=volume=0:enable='gte(mod(t\\,{every})\\,0.04)'"
    return [
        "-f", "lavfi", "-i", f"color=c=black:size={size}:rate={rate},{flash}",
        "-f", "lavfi", "-i", f"sine=f=1000:sample_rate=44100,{beep}",
    ]  # fmt: skip


def load_media(path: Path) -> Clip:
    """Like `load_clip`, and the tracks declare size, rate, sample rate and channels as an
    ingest protocol would (codecs other than H.264 carry no SPS the transcoder could read)."""
    with av.open(str(path)) as container:
        tracks = tuple(_declared(s) for s in container.streams if s.type in ("video", "audio"))
        packets = tuple(_packet(_with_dts(p)) for p in container.demux() if p.size)
    return Clip(path, tracks, packets)


def _with_dts(packet: Any) -> Any:
    """Matroska leaves the dts of some audio packets unset: it equals their pts."""
    if packet.dts is None:
        packet.dts = packet.pts
    return packet


def _declared(stream: Any) -> TrackInfo:
    ctx = stream.codec_context
    extradata = bytes(ctx.extradata or b"")
    if stream.type == "video":
        rate = float(stream.average_rate or 0)
        return TrackInfo(TrackKind.VIDEO, ctx.name, extradata, width=ctx.width,
                         height=ctx.height, frame_rate=rate)  # fmt: skip
    return TrackInfo(TrackKind.AUDIO, ctx.name, extradata, sample_rate=ctx.sample_rate,
                     channels=ctx.channels)  # fmt: skip


def marker_times(path: Path) -> tuple[list[float], list[float]]:
    """Presentation times of the flashes (bright frames) and beep onsets in a file."""
    flashes: list[float] = []
    beeps: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            luma = frame.to_ndarray(format="gray")
            if luma.mean() > 128 and frame.time is not None:
                flashes.append(float(frame.time))
    with av.open(str(path)) as container:
        loud = False
        for chunk in container.decode(container.streams.audio[0]):
            samples = chunk.to_ndarray()
            rate = chunk.sample_rate
            for start in range(0, samples.shape[-1], rate // 200):  # 5 ms windows
                window = samples[..., start : start + rate // 200]
                now_loud = float(np.abs(window).max()) > 0.1
                if now_loud and not loud and chunk.time is not None:
                    beeps.append(float(chunk.time) + start / rate)
                loud = now_loud
    return flashes, beeps
