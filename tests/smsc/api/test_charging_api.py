"""GET /api/v1/charging/deferred: counts of the deferred CCRs by state, the oldest one's age."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smsc.api.access import credentials_of
from smsc.api.charging import charging_routes
from smsc.api.http_app import build_http_app
from smsc.api.metrics import Metrics
from smsc.service.model import DeferredCharge, DeferredChargeCounts, DeferredChargeState
from smsc.service.registrations import Registrar
from smsc.service.shared_state import RegistrarStore
from smsc.store import MemoryMessageStore
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.errors import StoreUnavailable

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
TOKEN = "s3cret"


def _charge(n: int) -> DeferredCharge:
    return DeferredCharge(
        submission_id=f"sub-{n}",
        session_id=f"smsc;1;{n}",
        originator="491710000123",
        ccr=b"\x01\x00\x00\x14" + bytes([n]) * 16,
        created_at=T0 + timedelta(seconds=n),
    )


@pytest.fixture
async def store() -> AsyncIterator[MemoryMessageStore]:
    memory = MemoryMessageStore()
    await memory.start()
    yield memory
    await memory.close()


async def _client(app: web.Application) -> TestClient[Any, Any]:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def _app(store: MemoryMessageStore) -> web.Application:
    return build_http_app(
        credentials=credentials_of(TOKEN, ()),
        ready=lambda: True,
        store=store,
        metrics=Metrics(),
        on_submitted=lambda _: None,
        aml_store=MemoryAmlStore(),
        registrations=RegistrarStore(Registrar()),
        clock=time.monotonic,
    )


async def test_nothing_deferred(store: MemoryMessageStore) -> None:
    client = await _client(_app(store))
    try:
        response = await client.get(
            "/api/v1/charging/deferred", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 200
        assert await response.json() == {
            "counts": {"pending": 0, "sending": 0, "charged": 0, "rejected": 0, "failed": 0},
            "oldest_pending_at": None,
            "oldest_pending_age_s": None,
        }
    finally:
        await client.close()


async def test_the_route_needs_the_token(store: MemoryMessageStore) -> None:
    client = await _client(_app(store))
    try:
        assert (await client.get("/api/v1/charging/deferred")).status == 401
    finally:
        await client.close()


async def test_counts_and_the_oldest_pending_age(store: MemoryMessageStore) -> None:
    ids = [await store.add_deferred_charge(_charge(n)) for n in range(1, 5)]
    await store.claim_due_deferred_charges(T0, 2, 60.0)
    await store.record_deferred_outcome(ids[0], at=T0, state=DeferredChargeState.CHARGED)
    app = web.Application()
    app.add_routes(charging_routes(store, clock=lambda: T0 + timedelta(minutes=10)))
    client = await _client(app)
    try:
        body = await (await client.get("/api/v1/charging/deferred")).json()
    finally:
        await client.close()
    assert body == {
        "counts": {"pending": 2, "sending": 1, "charged": 1, "rejected": 0, "failed": 0},
        "oldest_pending_at": (T0 + timedelta(seconds=2)).isoformat(),
        "oldest_pending_age_s": 598.0,
    }


class UnavailableStore:
    async def deferred_charge_counts(self) -> DeferredChargeCounts:
        raise StoreUnavailable("database unreachable")


async def test_an_unavailable_store_is_503() -> None:
    app = web.Application()
    app.add_routes(charging_routes(UnavailableStore()))  # type: ignore[arg-type]
    client = await _client(app)
    try:
        response = await client.get("/api/v1/charging/deferred")
        assert response.status == 503
        assert (await response.json())["error"] == "store unavailable: database unreachable"
    finally:
        await client.close()
