"""S3 upload benchmark: N simulated hearings writing through the spool to moto's S3 server.

Each stream writes what the live pipeline writes every segment: a record segment and its public
copy (a PUT each, of bitrate x duration bytes), then the record and public playlists. moto runs
in a child process (its own GIL); `--outage START:LENGTH` stops it for LENGTH seconds from
START seconds on and starts it again on the same port, with its buckets intact.

Reports, as numbers: how long the pipeline's writes took to return (the spool write), the upload
lag per segment (spooled -> stored in S3) and per public playlist, the spool's peak size, how long
it took to drain after the outage, and whether every segment ended up in the bucket.

    .venv/bin/python bench/upload.py --streams 20 --seconds 60 --outage 20:15
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from courtcast.storage.base import (  # noqa: E402
    IMMUTABLE,
    LIVE_PLAYLIST,
    PRIVATE,
    ObjectMeta,
)
from courtcast.storage.s3 import S3Storage  # noqa: E402
from courtcast.storage.s3client import S3Client, S3Location  # noqa: E402
from courtcast.storage.scheduler import Operation  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.storage.s3server import S3Server, use_dummy_credentials  # noqa: E402

SEGMENT = ObjectMeta("video/iso.segment", IMMUTABLE)
RECORD = ObjectMeta("video/iso.segment", PRIVATE)
PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", LIVE_PLAYLIST)
RECORD_PLAYLIST = ObjectMeta("application/vnd.apple.mpegurl", PRIVATE)


def moto_child(port: int, commands: Connection) -> None:
    """Runs moto until told to stop; 'start'/'stop' toggle it, 'bucket NAME' creates one."""
    server = S3Server(port=port)
    server.start()
    while (command := commands.recv()) != "quit":
        if command == "stop":
            server.stop()
        elif command == "start":
            server.start()
        elif command.startswith("bucket "):
            server.client().create_bucket(Bucket=command.split()[1])
        elif command.startswith("count "):
            commands.send(len(server.keys(command.split()[1])))
            continue
        commands.send("ok")
    server.stop()


@dataclass
class Samples:
    put_seconds: list[float] = field(default_factory=list)
    segment_lag: list[float] = field(default_factory=list)
    playlist_lag: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    peak_ops: int = 0
    spool_ops: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, operations)

    def caught_up(self, since: float, normal: int) -> float | None:
        """Seconds from `since` until the spool is back to `normal` operations or fewer."""
        return next((t - since for t, ops in self.spool_ops if t >= since and ops <= normal),
                    None)

    def stored(self, op: Operation) -> None:
        lag = time.time() - op.spooled_at
        if op.key.startswith("public/") and op.key.endswith(".m4s"):
            self.segment_lag.append(lag)
        elif op.key.startswith("public/") and op.key.endswith("index.m3u8"):
            self.playlist_lag.append(lag)


async def timed_put(storage: S3Storage, samples: Samples, key: str, data: bytes,
                    meta: ObjectMeta) -> None:
    started = time.perf_counter()
    await storage.put(key, data, meta)
    samples.put_seconds.append(time.perf_counter() - started)


async def stream(storage: S3Storage, samples: Samples, hearing: int, args: argparse.Namespace,
                 start: float) -> None:
    size = int(args.bitrate * 1000 * args.segment / 8)
    listed = ""
    for n in range(int(args.seconds / args.segment)):
        # Real time: each segment is complete `segment` seconds after the previous one.
        await asyncio.sleep(max(0.0, start + (n + 1) * args.segment - time.monotonic()))
        data = os.urandom(size)
        name = f"{n:06d}.m4s"
        listed += f"#EXTINF:{args.segment:.3f},\n{name}\n"
        text = f"#EXTM3U\n#EXT-X-TARGETDURATION:{args.segment:.0f}\n{listed}".encode()
        await timed_put(storage, samples, f"record/{hearing}-x/source/{name}", data, RECORD)
        await timed_put(storage, samples, f"record/{hearing}-x/source/index.m3u8", text,
                        RECORD_PLAYLIST)
        await timed_put(storage, samples, f"public/{hearing}/source/{name}", data, SEGMENT)
        await timed_put(storage, samples, f"public/{hearing}/source/index.m3u8", text, PLAYLIST)


async def watch_spool(storage: S3Storage, samples: Samples, stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.peak_bytes = max(samples.peak_bytes, storage.uploader.spooled_bytes)
        samples.peak_ops = max(samples.peak_ops, storage.uploader.spooled_operations)
        samples.spool_ops.append((time.monotonic(), storage.uploader.spooled_operations))
        await asyncio.sleep(0.1)


async def outage(commands: Connection, start: float, length: float) -> float:
    await asyncio.sleep(start)
    commands.send("stop")
    commands.recv()
    await asyncio.sleep(length)
    commands.send("start")
    commands.recv()
    return time.monotonic()


def quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"p50 {statistics.median(ordered) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   "
            f"max {ordered[-1] * 1000:8.1f} ms   (n={len(ordered)})")


async def run(args: argparse.Namespace, commands: Connection, port: int, spool: Path) -> None:
    bucket = "courtcast-bench"
    commands.send(f"bucket {bucket}")
    commands.recv()
    client = S3Client(S3Location(bucket, "bench/", f"http://127.0.0.1:{port}", "path"),
                      connections=args.concurrency + 4)
    storage = S3Storage(client, spool, concurrency=args.concurrency,
                        spool_limit=args.spool_limit * 1024**2)
    samples = Samples()
    storage.uploader.on_stored = samples.stored
    await storage.start()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_spool(storage, samples, stop))
    back: asyncio.Task[float] | None = None
    if args.outage:
        at, length = (float(v) for v in args.outage.split(":"))
        back = asyncio.create_task(outage(commands, at, length))
    start = time.monotonic()
    await asyncio.gather(*(stream(storage, samples, h, args, start)
                           for h in range(args.streams)))
    produced_at = time.monotonic()
    back_at = await back if back is not None else None
    await storage.drained()
    drained_at = time.monotonic()
    stop.set()
    await watcher
    await storage.close()
    commands.send(f"count {bucket}")
    stored = commands.recv()
    segments = args.streams * int(args.seconds / args.segment)
    mbps = args.streams * args.bitrate * 2 / 1000
    print(f"streams {args.streams}, {args.seconds} s of {args.segment} s segments at "
          f"{args.bitrate} kbps (record + public: {mbps:.1f} Mbps to S3), "
          f"concurrency {args.concurrency}, outage {args.outage or 'none'}")
    print(f"put returns (spool write) {quantiles(samples.put_seconds)}")
    print(f"segment upload lag        {quantiles(samples.segment_lag)}")
    print(f"public playlist lag       {quantiles(samples.playlist_lag)}")
    print(f"spool peak                {samples.peak_bytes / 1024**2:.1f} MiB in "
          f"{samples.peak_ops} operations")
    if back_at is not None:
        # Back to normal: no more than one segment's writes per stream waiting.
        caught_up = samples.caught_up(back_at, args.streams * 4)
        print(f"backlog caught up         {caught_up:.1f} s after storage returned"
              if caught_up is not None else "backlog caught up         never")
    print(f"drained after last write  {drained_at - produced_at:.1f} s")
    print(f"objects in bucket         {stored} (expected {segments * 2} segments + "
          f"{args.streams * 2} playlists = {segments * 2 + args.streams * 2})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--segment", type=float, default=2.0)
    parser.add_argument("--bitrate", type=int, default=1600, help="kbps per stream")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--spool-limit", type=int, default=10 * 1024, help="MiB")
    parser.add_argument("--outage", metavar="START:LENGTH", help="seconds, e.g. 10:15")
    args = parser.parse_args()
    use_dummy_credentials()
    port = free_port()
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=moto_child, args=(port, theirs), daemon=True)
    child.start()
    try:
        with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="courtcast-bench-") as spool:
            asyncio.run(run(args, ours, port, Path(spool)))
    finally:
        ours.send("quit")
        child.join(timeout=10)


if __name__ == "__main__":
    main()
