"""Composition root: start the parts in order, stop them in reverse."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from smsc.api.health import health_routes
from smsc.settings import Settings

log = logging.getLogger("smsc")


class Application:
    """The running service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runner: web.AppRunner | None = None
        self._ready = False

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(health_routes(lambda: self._ready))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, _, port = self.settings.http.listen.rpartition(":")
        await web.TCPSite(self._runner, host, int(port)).start()
        self._ready = True
        log.info("HTTP API listening on %s", self.settings.http.listen)

    async def stop(self) -> None:
        self._ready = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    application = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await application.start()
    try:
        await stop.wait()
    finally:
        await application.stop()
