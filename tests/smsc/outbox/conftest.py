"""What the outbox tests share: an HTTP receiver on a real loopback socket, and a wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class Receiver:
    """Answers `statuses` in turn (then 200); `hold` keeps every POST waiting while set."""

    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.posts]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    app = web.Application()
    app.router.add_post("/in", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/in"
    yield server
    if server.hold is not None:
        server.hold.set()
    await runner.cleanup()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)
