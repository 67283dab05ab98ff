"""Prometheus metrics of one running service, and GET /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)


class Metrics:
    """Every metric the service exports, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.mo_received = Counter(
            "smsc_mo_received", "MO RP messages received, by RP message type", ["type"], registry=r
        )
        self.mo_rejected = Counter(
            "smsc_mo_rejected",
            "MO short messages answered with RP-ERROR, by RP-Cause",
            ["cause"],
            registry=r,
        )
        self.mt_delivered = Counter("smsc_mt_delivered", "MT short messages delivered", registry=r)
        self.mt_failed = Counter(
            "smsc_mt_failed", "MT delivery attempts that failed, by cause", ["cause"], registry=r
        )
        self.sip_responses = Counter(
            "smsc_sip_responses",
            "SIP responses sent and received, by code and direction",
            ["code", "direction"],
            registry=r,
        )
        self.sip_transactions = Gauge(
            "smsc_sip_transactions", "SIP transactions alive, by kind", ["kind"], registry=r
        )
        self.queue_depth = Gauge(
            "smsc_queue_depth", "Stored messages by state", ["state"], registry=r
        )
        self.api_submitted = Counter(
            "smsc_api_submitted", "Messages submitted over the HTTP API (segments)", registry=r
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_route(
    metrics: Metrics, refresh: Callable[[], Awaitable[None]] | None = None
) -> web.RouteDef:
    """GET /metrics in the Prometheus text format."""

    async def handler(_: web.Request) -> web.Response:
        if refresh is not None:
            await refresh()
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return web.get("/metrics", handler)
