"""WHIP benchmark: CPU of `courtcast serve` per WebRTC publisher, for the H.264 passthrough path
and the VP8 -> H.264 and VP9 -> H.264 transcode paths (Opus -> AAC in all).

Publishers are aiortc peers in subprocesses (this file with --publish) sending an FFmpeg lavfi
test pattern and tone, as a browser would; their own encoding is not counted. aiortc has no VP9
encoder: the VP9 publisher uses the tests' libvpx-vp9 one (real time, one spatial layer, as
Chromium sends by default). The server's CPU comes from /proc, minus its idle rate measured
before publishing.

    python bench/whip.py --streams 1 --seconds 30 --size 640x360
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.remux import cpu_seconds, make_hearing, wait_up  # noqa: E402
from tests.helpers import free_port  # noqa: E402

IDLE_SECONDS = 3.0


async def start_publishers(hearings: list[dict[str, Any]], codec: str, seconds: int,
                           size: str) -> list[asyncio.subprocess.Process]:
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--publish", h["whip_url"], h["stream_key"], codec,
        str(seconds), size, stdout=asyncio.subprocess.PIPE) for h in hearings]
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if line.strip() != b"connected":
            raise RuntimeError(f"a publisher did not connect: {line!r}")
    return processes


async def run_path(codec: str, streams: int, seconds: int, size: str,
                   work: Path) -> dict[str, Any]:
    http, rtmp, data = free_port(), free_port(), work / codec
    token = subprocess.run([sys.executable, "-m", "courtcast", "token", "create", "--data",
                            str(data)], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout.strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "courtcast", "--log-level", "WARNING", "serve", "--data",
         str(data), "--http", f"127.0.0.1:{http}", "--rtmp", f"127.0.0.1:{rtmp}"], cwd=ROOT)
    base = f"http://127.0.0.1:{http}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api:
            await wait_up(api, base)
            hearings = [await make_hearing(api, base, i) for i in range(streams)]
        idle_before = cpu_seconds(server.pid)
        await asyncio.sleep(IDLE_SECONDS)
        idle_rate = (cpu_seconds(server.pid) - idle_before) / IDLE_SECONDS
        publishers = await start_publishers(hearings, codec, seconds, size)
        before, started = cpu_seconds(server.pid), time.monotonic()
        codes = await asyncio.gather(*(p.wait() for p in publishers))
        cpu, wall = cpu_seconds(server.pid) - before, time.monotonic() - started
        if any(codes):
            raise RuntimeError(f"publishers failed: {codes}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    busy = max(cpu - idle_rate * wall, 0.0)
    return {"streams": streams, "wall_s": round(wall, 1), "server_cpu_s": round(cpu, 2),
            "idle_cpu_percent": round(idle_rate * 100, 2),
            "cpu_percent_of_a_core_per_stream": round(busy / wall / streams * 100, 1),
            "cpu_s_per_stream_minute": round(busy / streams / (wall / 60), 2)}


async def publish(url: str, key: str, codec: str, seconds: float, size: str) -> None:
    """One aiortc publisher: lavfi test pattern and tone over WHIP, then DELETE."""
    from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    from courtcast.ingest.whip.ice import IceSettings, configure

    if codec == "VP9":
        from courtcast.ingest.whip.peer import register_codecs
        from tests.ingest.whip.vp9_rtp import install_vp9_encoder

        register_codecs()
        install_vp9_encoder()
    loopback = IceSettings(hosts=("127.0.0.1",))
    video = MediaPlayer(f"testsrc2=size={size}:rate=25", format="lavfi")
    audio = MediaPlayer("sine=frequency=440:sample_rate=48000", format="lavfi")
    pc = RTCPeerConnection(loopback.rtc_configuration())
    capabilities = RTCRtpSender.getCapabilities("video")
    assert capabilities is not None and video.video is not None and audio.audio is not None
    pc.addTransceiver(video.video, direction="sendonly").setCodecPreferences(
        [c for c in capabilities.codecs if c.name in (codec, "rtx")])
    pc.addTransceiver(audio.audio, direction="sendonly")
    connected = asyncio.Event()
    pc.on("connectionstatechange",
          lambda: connected.set() if pc.connectionState == "connected" else None)
    configure(pc, loopback)
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=pc.localDescription.sdp, headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(f"WHIP refused: {response.status} {await response.text()}")
            location, answer = response.headers["Location"], await response.text()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(connected.wait(), 30)
        print("connected", flush=True)
        await asyncio.sleep(seconds)
        async with http.delete(url.split("/api/")[0] + location):
            pass
    await pc.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--size", default="640x360", help="publisher picture, WxH")
    parser.add_argument("--paths", default="H264,VP8,VP9", help="which paths to measure")
    parser.add_argument("--publish", nargs=5, metavar=("URL", "KEY", "CODEC", "SECONDS", "SIZE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        url, key, codec, seconds, size = args.publish
        await publish(url, key, codec, float(seconds), size)
        return
    report: dict[str, Any] = {"size": args.size, "fps": 25}
    with tempfile.TemporaryDirectory(prefix="courtcast-whip-bench-") as tmp:
        for codec in args.paths.split(","):
            name = "h264_passthrough" if codec == "H264" else f"{codec.lower()}_transcode"
            report[name] = await run_path(codec, args.streams, args.seconds, args.size, Path(tmp))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
