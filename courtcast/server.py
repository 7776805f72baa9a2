"""Everything in one process: catalog, storage, broadcaster, RTMP ingest and the web portal."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from courtcast.broadcast.broadcaster import Broadcaster
from courtcast.catalog.service import Catalog
from courtcast.config import Config
from courtcast.ingest.rtmp.server import RtmpServer
from courtcast.ingest.whip.gateway import GatewaySettings, WebRtcGateway
from courtcast.storage.factory import open_storage
from courtcast.web.app import create_app
from courtcast.web.services import WebServices

log = logging.getLogger("courtcast")


async def metrics_handler(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(generate_latest)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class CourtCast:
    """The assembled service; `start()` then `stop()`, or `run()` until a signal."""

    def __init__(self, config: Config) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(config.database_url)
        self.storage = open_storage(config)
        self.broadcaster = Broadcaster(config, self.catalog, self.storage)
        self.rtmp = RtmpServer(
            self.broadcaster,
            host=config.rtmp.host,
            port=config.rtmp.port,
            handshake_timeout=config.handshake_timeout,
            idle_timeout=config.idle_timeout,
        )
        self.webrtc = WebRtcGateway(self.broadcaster, self.broadcaster,
                                    GatewaySettings.from_config(config))
        app = create_app(WebServices(config, self.catalog, self.storage, self.broadcaster,
                                     self.webrtc))
        app.router.add_get("/metrics", metrics_handler)
        self.runner = web.AppRunner(app, access_log=None)
        self.http_port = config.http.port

    async def start(self) -> None:
        await asyncio.to_thread(self.catalog.migrate)
        await self.storage.start()  # resumes uploads spooled before a restart
        self.broadcaster.start()
        await self.rtmp.start()
        self.broadcaster.rtmp_port = self.rtmp.port
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.http.host, self.config.http.port)
        await site.start()
        server = site._server  # the bound socket tells the real port when 0 was asked for
        if isinstance(server, asyncio.base_events.Server) and server.sockets:
            self.http_port = server.sockets[0].getsockname()[1]
        log.info("portal on http://%s:%s/ , RTMP ingest on rtmp://%s:%s/live/KEY",
                 self.config.http.host, self.http_port, self.config.rtmp.host, self.rtmp.port)

    @property
    def base_url(self) -> str:
        host = self.config.http.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{self.http_port}"

    async def stop(self) -> None:
        await self.rtmp.close()  # publishers' sinks close, so their last segments are stored
        await self.webrtc.close()  # the same for WHIP publishers; WHEP monitors end
        await self.broadcaster.close()
        await self.runner.cleanup()
        await self.storage.close()
        await asyncio.to_thread(self.catalog.close)

    async def run(self) -> None:
        await self.start()
        await wait_for_signal()
        log.info("shutting down")
        await self.stop()


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
