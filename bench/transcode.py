"""Transcoding benchmark: CourtCast's ladder (PyAV) against the ffmpeg CLI doing the same work on
the same input, in one run; and an A/V drift check over a long input.

    python bench/transcode.py ladder [--size 1280x720] [--seconds 30]
    python bench/transcode.py drift [--minutes 60]

`ladder` reports CPU-seconds per media minute for: the ffmpeg CLI (decode once, split, scale,
libx264 per rung, one AAC encode shared by every output, source stream-copied, fMP4 out),
CourtCast's RenditionEngine with the same settings (packets demuxed up front, as ingest hands
them over), and CourtCast with the burned-in caption; then the ratio and how many such ladders
one core sustains. `drift` transcodes a long 160x90 input with a flash and a beep every minute
(video and audio both re-encoded, MP3 22.05 kHz in) and prints where the beeps land relative to
the flashes at the start and at the end, plus the audio/video stream ends from ffprobe.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from courtcast.media import MediaPacket, TrackInfo  # noqa: E402
from courtcast.transcode.encoders import EncoderSettings  # noqa: E402
from courtcast.transcode.ladder import (  # noqa: E402
    AUDIO_BITRATE,
    SOURCE,
    LadderPlan,
    plan_renditions,
)
from courtcast.transcode.overlay import OverlayStyle  # noqa: E402
from courtcast.transcode.renditions import (  # noqa: E402
    Event,
    RenditionEngine,
    RenditionSegment,
    TranscodeOptions,
)
from tests.transcode.clips import load_media, make_media, marked_source, marker_times  # noqa: E402

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
PRESET = "veryfast"


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def make_input(path: Path, size: str, seconds: int) -> Path:
    """A courtroom encoder's stream: H.264 high, 2 s GOP, B-frames, AAC stereo 48 kHz."""
    bitrate = "4M" if size.endswith("1080") else "2500k"
    return make_media(
        path,
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
        "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-ac", "2",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-g", "50", "-bf", "2",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        seconds=seconds,
    )  # fmt: skip


# --- the ffmpeg CLI ---------------------------------------------------------------------------


def cli_command(source: Path, plan: LadderPlan, out: Path) -> list[str]:
    rungs = [r for r in plan.renditions if r.video is not None]
    labels = "".join(f"[s{i}]" for i in range(len(rungs)))
    scales = ";".join(
        f"[s{i}]scale={r.video.width}:{r.video.height}:flags=bicubic[v{i}]"
        for i, r in enumerate(rungs)
        if r.video
    )
    args = ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-i", str(source),
            "-filter_complex_threads", "1",
            "-filter_complex", f"[0:v]split={len(rungs)}{labels};{scales}"]  # fmt: skip
    outputs = []
    for index, rung in enumerate(rungs):
        assert rung.video is not None
        rate = rung.video.bitrate
        args += ["-map", f"[v{index}]", f"-c:v:{index}", "libx264", f"-b:v:{index}", str(rate),
                 f"-maxrate:v:{index}", str(rate * 6 // 5), f"-bufsize:v:{index}", str(rate * 2),
                 f"-threads:v:{index}", "1", f"-preset:v:{index}", PRESET,
                 f"-profile:v:{index}", "high", f"-bf:v:{index}", "0",
                 f"-g:v:{index}", str(1 << 20), f"-sc_threshold:v:{index}", "0",
                 f"-x264-params:v:{index}", "scenecut=0:open-gop=0",
                 f"-force_key_frames:v:{index}", "source"]  # fmt: skip
        outputs.append(f"[select=\\'v:{index},a\\':f=mp4:movflags=+frag_keyframe+empty_moov]"
                       f"{out}/{rung.name}.mp4")  # fmt: skip
    copy = len(rungs)
    args += ["-map", "0:v", f"-c:v:{copy}", "copy", "-map", "0:a"]
    outputs.append(f"[select=\\'v:{copy},a\\':f=mp4:movflags=+frag_keyframe+empty_moov]"
                   f"{out}/source.mp4")  # fmt: skip
    outputs.append(f"[select=a:f=mp4:movflags=+frag_keyframe+empty_moov]{out}/audio.mp4")
    args += ["-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-f", "tee", "|".join(outputs)]
    return args


def run_cli(source: Path, plan: LadderPlan, out: Path) -> float:
    out.mkdir(exist_ok=True)
    before = cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(cli_command(source, plan, out), check=True)
    return cpu(resource.RUSAGE_CHILDREN) - before


# --- CourtCast --------------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.bytes: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RenditionSegment):
            self.bytes[event.rendition] = self.bytes.get(event.rendition, 0) + event.output.size


def run_courtcast(
    packets: tuple[MediaPacket, ...], tracks: tuple[TrackInfo, ...], caption: bool
) -> tuple[float, Sink]:
    options = TranscodeOptions(
        encoder=EncoderSettings(preset=PRESET),
        overlay=OverlayStyle("北京市朝阳区人民法院") if caption else None,
    )
    plan = plan_renditions(tracks, "ladder", overlay=caption)
    sink = Sink()
    before = cpu(resource.RUSAGE_SELF)
    engine = RenditionEngine(plan, plan.renditions, options, sink)
    engine.start(tracks)
    for packet in packets:
        engine.write(packet, T0 + timedelta(seconds=float(packet.dts * packet.time_base)))
    engine.flush()
    return cpu(resource.RUSAGE_SELF) - before, sink


def ladder(size: str, seconds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        source = make_input(work / "in.flv", size, seconds)
        clip = load_media(source)
        plan = plan_renditions(clip.tracks, "ladder")
        names = ", ".join(
            f"{r.name} {r.video.width}x{r.video.height}" if r.video else r.name
            for r in plan.renditions
        )
        print(f"input {size} 25 fps, {seconds} s; ladder: {names}; x264 {PRESET}, 1 thread")
        print(f"ffmpeg CLI: {_version(['ffmpeg', '-version'])}; PyAV {av.__version__} "
              f"(FFmpeg {av.ffmpeg_version_info})")  # fmt: skip
        minutes = seconds / 60
        cli = run_cli(source, plan, work / "cli") / minutes
        ours, sink = run_courtcast(clip.packets, clip.tracks, caption=False)
        captioned, _ = run_courtcast(clip.packets, clip.tracks, caption=True)
        ours, captioned = ours / minutes, captioned / minutes
        print(f"ffmpeg CLI          {cli:7.2f} CPU-s per media minute")
        print(f"CourtCast           {ours:7.2f} CPU-s per media minute   ratio {ours / cli:.2f}x")
        print(f"CourtCast + caption {captioned:7.2f} CPU-s per media minute   "
              f"caption +{(captioned - ours) / ours * 100:.1f} %")  # fmt: skip
        print(f"one core sustains {60 / ours:.1f} such ladders in real time "
              f"({60 / captioned:.1f} with the caption)")  # fmt: skip
        rates = {n: f"{b * 8 / seconds / 1000:.0f}" for n, b in sorted(sink.bytes.items())}
        print(f"kbit/s per rendition (CourtCast): {rates}")


def _version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True).stdout.split("\n")[0][:40]


# --- drift ------------------------------------------------------------------------------------


def drift(minutes: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        seconds = minutes * 60
        print(f"making {minutes} min of 160x90 with a flash + beep every 60 s ...", flush=True)
        source = make_media(work / "long.flv", *marked_source(every=60.0), "-c:v", "libx264",
                            "-preset", "ultrafast", "-g", "50", "-c:a", "libmp3lame",
                            "-ar", "22050", seconds=seconds)  # fmt: skip
        clip = load_media(source)
        plan = plan_renditions(clip.tracks, "passthrough", force_transcode=True)
        out = work / "out.mp4"
        with out.open("wb") as file:
            init_written = False

            def write(event: Event) -> None:
                nonlocal init_written
                if isinstance(event, RenditionSegment) and event.rendition == SOURCE:
                    if not init_written:
                        file.write(event.output.init)
                        init_written = True
                    file.write(event.output.data)

            options = TranscodeOptions(encoder=EncoderSettings(preset="ultrafast"))
            engine = RenditionEngine(plan, plan.renditions, options, write)
            before = cpu(resource.RUSAGE_SELF)
            engine.start(clip.tracks)
            for packet in clip.packets:
                engine.write(packet, T0 + timedelta(seconds=float(packet.dts * packet.time_base)))
            engine.flush()
            spent = cpu(resource.RUSAGE_SELF) - before
        print(f"transcoded in {spent:.0f} CPU-s; measuring markers ...", flush=True)
        found = {}
        for name, path in (("input", source), ("output", out)):
            flashes, beeps = marker_times(path)
            found[name] = offsets = [nearest(beeps, f) - f for f in flashes if f > 1]
            print(f"{name:6s} beep - flash (ms): first {offsets[0] * 1000:6.1f}, "
                  f"last {offsets[-1] * 1000:6.1f}, markers {len(offsets)}")  # fmt: skip
        changes = [o - i for o, i in zip(found["output"], found["input"], strict=True)]
        print(f"A/V offset added by CourtCast per marker (ms): first {changes[0] * 1000:.1f}, "
              f"last {changes[-1] * 1000:.1f}, worst {max(changes, key=abs) * 1000:.1f}")
        ends = stream_ends(out)
        print(f"output stream ends: video {ends['video']:.3f} s, audio {ends['audio']:.3f} s, "
              f"difference {(ends['audio'] - ends['video']) * 1000:.1f} ms")  # fmt: skip


def nearest(times: list[float], t: float) -> float:
    return min(times, key=lambda other: abs(other - t))


def stream_ends(path: Path) -> dict[str, float]:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe
    ends: dict[str, float] = {}
    for kind, selector in (("video", "v:0"), ("audio", "a:0")):
        result = subprocess.run(
            [ffprobe, "-v", "error", "-select_streams", selector, "-show_entries",
             "packet=pts_time,duration_time", "-of", "json", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        packets = json.loads(result.stdout)["packets"]
        last = max(packets, key=lambda p: float(p["pts_time"]))
        duration = last.get("duration_time", "0")
        ends[kind] = float(last["pts_time"]) + (float(duration) if duration != "N/A" else 0.04)
    return ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("ladder")
    bench.add_argument("--size", default="1280x720")
    bench.add_argument("--seconds", type=int, default=30)
    long = commands.add_parser("drift")
    long.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    if args.command == "ladder":
        ladder(args.size, args.seconds)
    else:
        drift(args.minutes)


if __name__ == "__main__":
    main()
