"""GET /healthz and /readyz."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from smsc import __version__


def health_routes(ready: Callable[[], bool]) -> list[web.RouteDef]:
    """Liveness answers while the process runs; readiness asks `ready`."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": __version__})

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting"}, status=503)

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
