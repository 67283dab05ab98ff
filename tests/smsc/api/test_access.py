"""Operator API access over a real socket: named tokens with read or submit scope."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from smsc.api.access import credentials_of
from smsc.api.http_app import build_http_app
from smsc.api.metrics import Metrics
from smsc.service.registrations import Registrar
from smsc.service.shared_state import RegistrarStore
from smsc.settings import ApiToken, SettingsError, settings_from
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.memory import MemoryMessageStore

Client = TestClient[Any, Any]
BODY = {"to": "+491710000001", "from": "MyBank", "text": "hi"}


@asynccontextmanager
async def client_for(
    api_token: str | None, *tokens: ApiToken
) -> AsyncIterator[TestClient[Any, Any]]:
    store, aml_store = MemoryMessageStore(), MemoryAmlStore()
    await store.start()
    await aml_store.start()
    app = build_http_app(
        credentials=credentials_of(api_token, tokens),
        ready=lambda: True,
        store=store,
        metrics=Metrics(),
        on_submitted=lambda _: None,
        aml_store=aml_store,
        registrations=RegistrarStore(Registrar()),
        clock=time.monotonic,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_read_token_reads_but_cannot_submit() -> None:
    dashboard = ApiToken("psap-dashboard", "r3ad", "read")
    async with client_for(None, dashboard) as client:
        assert (await client.get("/api/v1/aml", headers=bearer("r3ad"))).status == 200
        refused = await client.post("/api/v1/messages", json=BODY, headers=bearer("r3ad"))
        assert refused.status == 403
        assert await refused.json() == {
            "error": "token 'psap-dashboard' may only read",
            "field": None,
        }


async def test_a_submit_token_and_the_api_token_may_do_both() -> None:
    ops = ApiToken("ops", "subm1t", "submit")
    async with client_for("m4ster", ops) as client:
        for token in ("subm1t", "m4ster"):
            assert (await client.get("/api/v1/aml", headers=bearer(token))).status == 200
            sent = await client.post("/api/v1/messages", json=BODY, headers=bearer(token))
            assert sent.status == 201


async def test_no_or_a_wrong_token_is_401_and_public_paths_stay_open() -> None:
    async with client_for(None, ApiToken("ops", "subm1t", "submit")) as client:
        assert (await client.get("/api/v1/aml")).status == 401
        assert (await client.get("/api/v1/aml", headers=bearer("subm1tx"))).status == 401
        assert (await client.get("/api/v1/openapi.json")).status == 200
        assert (await client.get("/healthz")).status == 200


async def test_without_any_token_the_loopback_api_is_open() -> None:
    async with client_for(None) as client:
        assert (await client.post("/api/v1/messages", json=BODY)).status == 201


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        ({"listen": "0.0.0.0:8080"}, "not loopback: set api_token or tokens"),
        ({"listen": "10.1.2.3:8080"}, "not loopback"),
        ({"listen": "api.example.net:8080"}, "not loopback"),
        (
            {"tokens": [{"name": "a", "token": "x"}, {"name": "a", "token": "y"}]},
            "a name of its own",
        ),
        ({"tokens": [{"name": "a", "token": "x", "scope": "admin"}]}, "scope"),
    ],
)
def test_an_api_open_to_the_network_is_refused(http: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        settings_from({"http": http})


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"])
def test_loopback_needs_no_token(listen: str) -> None:
    assert settings_from({"http": {"listen": listen}}).http.listen == listen


def test_elsewhere_a_named_token_is_enough() -> None:
    settings = settings_from(
        {"http": {"listen": "0.0.0.0:8080", "tokens": [{"name": "ops", "token": "x"}]}}
    )
    assert settings.http.tokens == (ApiToken("ops", "x", "read"),)
