"""GET /api/v1/smpp/sessions: the ESMEs' SMPP sessions of this process, bound or not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from smsc.api.errors import error_response

__all__ = ["SESSIONS_PATH", "smpp_routes"]

SESSIONS_PATH = "/api/v1/smpp/sessions"


def smpp_routes(sessions: Callable[[], list[dict[str, Any]] | None]) -> list[web.RouteDef]:
    """`sessions` gives the sessions now, or None when SMPP is off (no smpp.listen)."""

    async def get_sessions(_: web.Request) -> web.Response:
        views = sessions()
        if views is None:
            return error_response(404, "SMPP is off (smpp.listen is empty)")
        return web.json_response({"sessions": views})

    return [web.get(SESSIONS_PATH, get_sessions)]
