"""Remux benchmark: N simultaneous real-time RTMP publishers into CourtCast, and into nginx-rtmp
(the reference, when installed) on the same input in the same run.

Reports CPU-seconds per stream per media minute of the server process, the ratio to nginx-rtmp,
and CourtCast's per-segment publish lag (last packet of a segment arriving -> segment listed in
the public playlist), read from its Prometheus histogram.

    .venv/bin/python bench/remux.py --streams 8 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port  # noqa: E402

NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / CLK_TCK


def make_input(path: Path, seconds: int) -> None:
    """A 720p25 H.264 + AAC FLV of about 1.6 Mbps with a 2 s GOP, like a courtroom encoder."""
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k",
        "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-f", "flv", str(path)], check=True)


async def publish_all(urls: list[str], source: Path) -> None:
    processes = [await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", str(source),
        "-c", "copy", "-f", "flv", url) for url in urls]
    codes = await asyncio.gather(*(p.wait() for p in processes))
    if any(codes):
        raise RuntimeError(f"publishers failed: {codes}")


async def courtcast_run(streams: int, source: Path, seconds: int, work: Path) -> dict[str, Any]:
    http, rtmp = free_port(), free_port()
    data = work / "courtcast"
    token = subprocess.run([sys.executable, "-m", "courtcast", "token", "create", "--data",
                            str(data)], capture_output=True, text=True, check=True).stdout.strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "courtcast", "--log-level", "WARNING", "serve", "--data",
         str(data), "--http", f"127.0.0.1:{http}", "--rtmp", f"127.0.0.1:{rtmp}"],
        cwd=ROOT)
    base = f"http://127.0.0.1:{http}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http_session:
            await wait_up(http_session, base)
            urls = [str((await make_hearing(http_session, base, i))["rtmp_url"])
                    for i in range(streams)]
            before, started = cpu_seconds(server.pid), time.monotonic()
            await publish_all(urls, source)
            await asyncio.sleep(1)  # the last segments are stored when publishers disconnect
            cpu = cpu_seconds(server.pid) - before
            wall = time.monotonic() - started
            async with http_session.get(f"{base}/metrics") as response:
                lag = publish_lag(await response.text())
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return {"cpu_s": cpu, "wall_s": wall, "lag": lag}


async def wait_up(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("courtcast did not start")


async def make_hearing(
    session: aiohttp.ClientSession, base: str, index: int, label: str = "BENCH"
) -> dict[str, Any]:
    """A court, courtroom, case and approved hearing through the JSON API."""

    async def post(path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        async with session.post(f"{base}/api/v1/{path}", json=body) as response:
            answer: dict[str, Any] = await response.json()
            if response.status != status:
                raise RuntimeError(answer)
            return answer

    court = await post("courts", {"name": f"{label} court {index}", "level": "basic",
                                  "region": "Bench"})
    room = await post("courtrooms", {"court_id": court["id"], "name": "Room 1"})
    case = await post("cases", {"court_id": court["id"], "case_number": f"{label}-{index}",
                                "title": "Benchmark", "case_type": "civil", "cause": "bench"})
    now = datetime.now(UTC)
    hearing = await post("hearings", {
        "case_id": case["id"], "courtroom_id": room["id"],
        "scheduled_start": now.isoformat(),
        "scheduled_end": (now + timedelta(hours=1)).isoformat()})
    await post(f"hearings/{hearing['id']}/approve", {}, status=200)  # ingest needs approval
    return hearing


def publish_lag(metrics_text: str) -> dict[str, float]:
    """Mean and bucket-estimated p50/p95/max-bucket of the publish lag histogram."""
    name = "courtcast_segment_publish_lag_seconds"
    buckets = [(float("inf") if m[0] == "+Inf" else float(m[0]), float(m[1])) for m in
               re.findall(rf'{name}_bucket{{le="([^"]+)"}} ([0-9.e+]+)', metrics_text)]
    total = float(re.search(rf"{name}_sum ([0-9.e+-]+)", metrics_text).group(1))  # type: ignore[union-attr]
    count = float(re.search(rf"{name}_count ([0-9.e+-]+)", metrics_text).group(1))  # type: ignore[union-attr]

    def quantile(q: float) -> float:
        return next((le for le, c in buckets if c >= q * count), float("inf"))

    return {"segments": count, "mean_s": total / count if count else 0.0,
            "p50_le_s": quantile(0.5), "p95_le_s": quantile(0.95)}


NGINX_CONF = """
load_module {module};
daemon off;
master_process off;
worker_processes 1;
error_log {work}/nginx-error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen 127.0.0.1:{port};
    chunk_size 4096;
    application live {{
      live on;
      hls on;
      hls_path {work}/hls;
      hls_fragment 2s;
      hls_playlist_length 3600s;
      hls_nested on;
    }}
  }}
}}
"""


async def nginx_run(streams: int, source: Path, work: Path) -> dict[str, Any] | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists() or not NGINX_MODULE.exists():
        return None
    port = free_port()
    (work / "hls").mkdir(parents=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(module=NGINX_MODULE, work=work, port=port))
    server = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)])
    try:
        await asyncio.sleep(0.5)
        urls = [f"rtmp://127.0.0.1:{port}/live/stream{i}" for i in range(streams)]
        before, started = cpu_seconds(server.pid), time.monotonic()
        await publish_all(urls, source)
        await asyncio.sleep(1)
        return {"cpu_s": cpu_seconds(server.pid) - before, "wall_s": time.monotonic() - started}
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="courtcast-bench-") as tmp:
        work = Path(tmp)
        source = work / "input.flv"
        make_input(source, args.seconds)
        media_minutes = args.streams * args.seconds / 60
        reference = await nginx_run(args.streams, source, work / "nginx")
        ours = await courtcast_run(args.streams, source, args.seconds, work)
        report: dict[str, Any] = {
            "streams": args.streams, "seconds": args.seconds,
            "courtcast_cpu_s_per_stream_minute": ours["cpu_s"] / media_minutes,
            "courtcast_cpu_share_per_stream": ours["cpu_s"] / ours["wall_s"] / args.streams,
            "courtcast_publish_lag": ours["lag"],
        }
        if reference is not None:
            report["nginx_rtmp_cpu_s_per_stream_minute"] = reference["cpu_s"] / media_minutes
            report["ratio_courtcast_to_nginx_rtmp"] = (
                ours["cpu_s"] / reference["cpu_s"] if reference["cpu_s"] else float("inf"))
        else:
            report["nginx_rtmp"] = "not installed (apt-get install nginx libnginx-mod-rtmp)"
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
