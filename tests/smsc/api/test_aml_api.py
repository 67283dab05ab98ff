"""GET /api/v1/aml/{id} and GET /api/v1/aml over a real loopback server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from aml.store import AmlStore, NewAmlReport
from smsc.api.access import credentials_of, token_auth
from smsc.api.aml import aml_routes
from smsc.store import SqlMessageStore
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.aml_sql import SqlAmlStore

T0 = datetime(2026, 12, 4, 9, 30, 0, tzinfo=UTC)
PARSED = {"version": 1, "lt": 48.82639, "lg": -2.36619, "rd": 52, "problems": []}


def report(n: int = 1, **fields: Any) -> NewAmlReport:
    values: dict[str, Any] = {
        "received_at": T0 + timedelta(seconds=n),
        "sender_msisdn": f"49151000000{n:02d}",
        "destination": "112",
        "raw_text": 'A"ML=1;lt=48.82639;lg=-2.36619;rd=52',
        "parsed_json": json.dumps(PARSED),
        "route_name": "default",
        "format": "json",
        "url": "http://127.0.0.1:18080/aml",
        "roaming_status": "international-roaming",
        "visited_plmn": "20801",
    }
    values.update(fields)
    return NewAmlReport(**values)


async def _client(store: AmlStore, token: str | None = None) -> TestClient[Any, Any]:
    app = web.Application(middlewares=[token_auth(credentials_of(token, ()))])
    app.add_routes(aml_routes(store))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AmlStore]:
    if request.param == "memory":
        memory = MemoryAmlStore()
        await memory.start()
        yield memory
        await memory.close()
        return
    messages = SqlMessageStore(f"sqlite+aiosqlite:///{tmp_path}/smsc.db")
    await messages.start()
    sql = SqlAmlStore(messages)
    await sql.start()
    yield sql
    await sql.close()
    await messages.close()


@pytest.fixture
async def client(store: AmlStore) -> AsyncIterator[TestClient[Any, Any]]:
    client = await _client(store)
    yield client
    await client.close()


async def test_one_report_with_state_attempts_and_parsed_json(
    store: AmlStore, client: TestClient[Any, Any]
) -> None:
    report_id = await store.add_report(report())
    t1, t2 = T0 + timedelta(seconds=2), T0 + timedelta(seconds=3)
    await store.record_attempt(
        report_id, t1, False, http_status=503, error="HTTP 503: busy", next_attempt_at=t2
    )
    response = await client.get(f"/api/v1/aml/{report_id}")
    assert response.status == 200
    body = await response.json()
    assert body == {
        "id": report_id,
        "state": "pending",
        "received_at": "2026-12-04T09:30:01+00:00",
        "sender": "4915100000001",
        "destination": "112",
        "route": "default",
        "format": "json",
        "url": "http://127.0.0.1:18080/aml",
        "roaming_status": "international-roaming",
        "visited_plmn": "20801",
        "attempts": 1,
        "last_http_status": 503,
        "last_error": "HTTP 503: busy",
        "next_attempt_at": "2026-12-04T09:30:03+00:00",
        "delivered_at": None,
        "latency_ms": None,
        "raw_text": 'A"ML=1;lt=48.82639;lg=-2.36619;rd=52',
        "report": PARSED,
        "history": [
            {
                "at": "2026-12-04T09:30:02+00:00",
                "ok": False,
                "http_status": 503,
                "error": "HTTP 503: busy",
            }
        ],
    }

    await store.record_attempt(report_id, t2, True, http_status=200)
    body = await (await client.get(f"/api/v1/aml/{report_id}")).json()
    assert (body["state"], body["attempts"], body["delivered_at"]) == (
        "delivered",
        2,
        "2026-12-04T09:30:03+00:00",
    )
    assert body["latency_ms"] == 2000.0
    assert body["next_attempt_at"] is None
    assert [a["ok"] for a in body["history"]] == [False, True]


async def test_unknown_report_is_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/aml/12345")
    assert response.status == 404
    assert (await response.json())["field"] == "id"


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999999999999", "١"])
async def test_a_malformed_id_is_422(client: TestClient[Any, Any], bad: str) -> None:
    response = await client.get(f"/api/v1/aml/{bad}")
    assert response.status == 422
    assert (await response.json())["field"] == "id"


async def test_unparseable_stored_json_is_returned_as_text(
    store: AmlStore, client: TestClient[Any, Any]
) -> None:
    report_id = await store.add_report(report(parsed_json="not json {"))
    body = await (await client.get(f"/api/v1/aml/{report_id}")).json()
    assert body["report"] == "not json {"


async def test_recent_reports_newest_first(store: AmlStore, client: TestClient[Any, Any]) -> None:
    assert await (await client.get("/api/v1/aml")).json() == {"reports": []}
    ids = [await store.add_report(report(n)) for n in range(1, 6)]
    body = await (await client.get("/api/v1/aml")).json()
    assert [r["id"] for r in body["reports"]] == ids[::-1]
    assert all("history" not in r for r in body["reports"])
    assert body["reports"][0]["report"] == PARSED
    two = await (await client.get("/api/v1/aml?limit=2")).json()
    assert [r["id"] for r in two["reports"]] == ids[:2:-1]


async def test_listing_defaults_to_50(store: AmlStore, client: TestClient[Any, Any]) -> None:
    for n in range(60):
        await store.add_report(report(n))
    body = await (await client.get("/api/v1/aml")).json()
    assert len(body["reports"]) == 50


@pytest.mark.parametrize("bad", ["0", "-3", "x", "1001", "99999999999", "2.5", ""])
async def test_a_bad_limit_is_422(client: TestClient[Any, Any], bad: str) -> None:
    response = await client.get(f"/api/v1/aml?limit={bad}")
    assert response.status == 422
    assert (await response.json())["field"] == "limit"


async def test_a_closed_store_answers_503() -> None:
    store = MemoryAmlStore()
    client = await _client(store)
    try:
        assert (await client.get("/api/v1/aml/1")).status == 503
        assert (await client.get("/api/v1/aml")).status == 503
    finally:
        await client.close()


async def test_the_api_token_guards_the_aml_routes() -> None:
    store = MemoryAmlStore()
    await store.start()
    await store.add_report(report())
    client = await _client(store, token="s3cret")
    try:
        assert (await client.get("/api/v1/aml/1")).status == 401
        ok = await client.get("/api/v1/aml/1", headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
    finally:
        await client.close()
