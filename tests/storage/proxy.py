"""A recording HTTP proxy in front of the S3 endpoint: observes the order in which requests
reach storage and can make some of them slow (a slow endpoint, not a fake one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from tests.helpers import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
              "content-encoding"}


@dataclass
class Exchange:
    method: str
    key: str  # the object key below the bucket (query string dropped)
    started: float
    body: bytes
    finished: float = 0.0


@dataclass
class RecordingProxy:
    upstream: str
    bucket: str
    port: int = field(default_factory=free_port)
    exchanges: list[Exchange] = field(default_factory=list)
    delay: Callable[[str, str], float] = lambda method, key: 0.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def puts(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == "PUT" and e.finished]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = unquote(request.path).removeprefix(f"/{self.bucket}/")
        exchange = Exchange(request.method, key, time.monotonic(), body)
        self.exchanges.append(exchange)
        await asyncio.sleep(self.delay(request.method, key))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with aiohttp.ClientSession(auto_decompress=False) as session, session.request(
            request.method, f"{self.upstream}{request.path_qs}", data=body, headers=headers,
        ) as answer:
            payload = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        exchange.finished = time.monotonic()
        return web.Response(status=answer.status, body=payload, headers=out)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RecordingProxy]:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        try:
            yield self
        finally:
            await runner.cleanup()
