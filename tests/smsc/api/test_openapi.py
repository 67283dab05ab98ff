"""The OpenAPI document is valid, served without a token, and lists exactly the routes the
application registers; any JSON body gets an answer below 500 in the error shape."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from smsc.api.access import credentials_of
from smsc.api.http_app import build_http_app
from smsc.api.metrics import Metrics
from smsc.api.openapi import openapi_document
from smsc.service.registrations import Registrar
from smsc.service.shared_state import RegistrarStore
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.memory import MemoryMessageStore


def make_app(token: str | None = None, store: MemoryMessageStore | None = None) -> web.Application:
    return build_http_app(
        credentials=credentials_of(token, ()),
        ready=lambda: True,
        store=store or MemoryMessageStore(),
        metrics=Metrics(),
        on_submitted=lambda _: None,
        aml_store=MemoryAmlStore(),
        registrations=RegistrarStore(Registrar()),
        clock=time.monotonic,
    )


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def documented_routes() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }


def test_the_document_is_valid_openapi() -> None:
    validate(openapi_document())


def test_the_document_lists_exactly_the_registered_routes() -> None:
    assert registered_routes(make_app()) == documented_routes()


def test_every_operation_documents_its_errors_in_the_error_shape() -> None:
    for operations in openapi_document()["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "application/json" in response.get(
                    "content", {}
                ):
                    schema = response["content"]["application/json"]["schema"]
                    if status != "503" or "$ref" in schema:
                        assert schema == {"$ref": "#/components/schemas/Error"}, status


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(token="s3cret"))) as client:
        yield client


async def test_the_document_is_served_without_a_token(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert await response.json() == json.loads(json.dumps(openapi_document()))
    assert (await client.get("/api/v1/aml")).status == 401


VALID = st.fixed_dictionaries(
    {"to": st.just("+491710000001"), "from": st.just("Shop"), "text": st.text(min_size=1)}
)
JSON = VALID | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["to", "from", "text", "status_report", "validity_s", "x"])
            | st.text(max_size=5),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(body=JSON)
async def test_any_json_body_is_answered_below_500_in_the_error_shape(body: Any) -> None:
    store = MemoryMessageStore()
    await store.start()
    async with TestClient(TestServer(make_app(store=store))) as client:
        response = await client.post("/api/v1/messages", json=body)
        answer = await response.json()
        assert response.status in (201, 422), answer
        if response.status == 422:
            assert set(answer) <= {"error", "field", "errors"}
            assert isinstance(answer["error"], str) and answer["error"]
