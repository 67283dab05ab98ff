"""GET /api/v1/charging/deferred: the CCRs no OCS answered, kept to be sent again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from smsc.api.errors import error_response
from smsc.service.ports import DeferredChargeStore
from smsc.store.errors import StoreError

__all__ = ["DEFERRED_PATH", "charging_routes"]

DEFERRED_PATH = "/api/v1/charging/deferred"


def _now() -> datetime:
    return datetime.now(UTC)


def charging_routes(
    store: DeferredChargeStore, clock: Callable[[], datetime] = _now
) -> list[web.RouteDef]:
    """The operator's view of deferred charging."""

    async def get_deferred(_: web.Request) -> web.Response:
        try:
            counts = await store.deferred_charge_counts()
        except StoreError as exc:
            return error_response(503, f"store unavailable: {exc}")
        oldest = counts.oldest_pending_at
        return web.json_response(
            {
                "counts": {state.value: count for state, count in counts.by_state.items()},
                "oldest_pending_at": None if oldest is None else oldest.isoformat(),
                "oldest_pending_age_s": None
                if oldest is None
                else round(max((clock() - oldest).total_seconds(), 0.0), 3),
            }
        )

    return [web.get(DEFERRED_PATH, get_deferred)]
