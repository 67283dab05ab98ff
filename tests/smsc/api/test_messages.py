"""The message API over a real loopback socket: submit, status, bad input, auth, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smsc.api.access import credentials_of, token_auth
from smsc.api.errors import INTERNAL_ERROR_HOOK, error_middleware
from smsc.api.message_request import MAX_BODY_OCTETS, RequestPolicy
from smsc.api.messages import message_routes
from smsc.api.metrics import Metrics, metrics_route
from smsc.routing.numbering import DiallingPlan
from smsc.service.model import Attempt, MessageState
from smsc.settings import NumberingSettings
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.tp import SmsSubmit, decode_tpdu
from smsc.store.memory import MemoryMessageStore


class Harness:
    def __init__(self, client: TestClient[Any, Any], store: MemoryMessageStore) -> None:
        self.client = client
        self.store = store
        self.woken: list[str] = []


POLICY = RequestPolicy(
    DiallingPlan.of(NumberingSettings(country_code="49")),
    ("https://app.example.net/dlr/",),
)


async def _harness(token: str | None = None) -> AsyncIterator[Harness]:
    store = MemoryMessageStore()
    await store.start()
    metrics = Metrics()
    woken: list[str] = []
    app = web.Application(
        middlewares=[error_middleware, token_auth(credentials_of(token, ()))],
        client_max_size=MAX_BODY_OCTETS,
    )
    app.add_routes(message_routes(store, metrics, woken.extend, policy=POLICY))
    app.add_routes([metrics_route(metrics)])
    client = TestClient(TestServer(app))
    await client.start_server()
    harness = Harness(client, store)
    harness.woken = woken
    try:
        yield harness
    finally:
        await client.close()
        await store.close()


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    async for harness in _harness():
        yield harness


@pytest.fixture
async def secured() -> AsyncIterator[Harness]:
    async for harness in _harness("s3cret"):
        yield harness


async def test_submit_then_status(api: Harness) -> None:
    response = await api.client.post(
        "/api/v1/messages", json={"to": "+491710000001", "from": "MyBank", "text": "Hello"}
    )
    assert response.status == 201
    created = await response.json()
    assert created["segments"] == 1
    assert api.woken == ["491710000001"]
    status = await (await api.client.get(f"/api/v1/messages/{created['id']}")).json()
    assert status["state"] == "queued"
    assert status["to"] == "+491710000001"
    assert status["from"] == "MyBank"
    parts = await api.store.get_submission(created["id"])
    stored = parts[0].message
    assert stored.originator_ton == TypeOfNumber.ALPHANUMERIC
    submit = decode_tpdu(stored.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(submit, SmsSubmit)
    assert submit.user_data.text == "Hello"
    assert submit.destination.value == "491710000001"


async def test_long_unicode_text_is_segmented(api: Harness) -> None:
    text = "Grüße 🙂 " * 30  # emoji forces UCS2: 270 UTF-16 units -> 5 parts of 67
    response = await api.client.post(
        "/api/v1/messages",
        json={"to": "491710000001", "from": "+4915100000", "text": text, "status_report": True},
    )
    created = await response.json()
    parts = await api.store.get_submission(created["id"])
    assert len(parts) == created["segments"] > 1
    texts = [p.message.text or "" for p in parts]
    assert "".join(texts) == text
    for part in parts:
        submit = decode_tpdu(part.message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
        assert isinstance(submit, SmsSubmit)
        assert submit.status_report_request
        assert submit.user_data.header is not None
        assert submit.user_data.header.concatenation is not None


async def test_state_follows_the_segments(api: Harness) -> None:
    created = await (
        await api.client.post(
            "/api/v1/messages", json={"to": "491710000001", "from": "Shop", "text": "x"}
        )
    ).json()
    part = (await api.store.get_submission(created["id"]))[0]
    now = datetime.now(UTC)
    claimed = await api.store.claim_next("491710000001", now)
    assert claimed is not None and claimed.id == part.id
    await api.store.record_attempt(
        part.id, MessageState.DELIVERED, Attempt(now, 200, None, "delivered")
    )
    status = await (await api.client.get(f"/api/v1/messages/{created['id']}")).json()
    assert status["state"] == "delivered"
    assert status["segments"][0]["attempts"] == 1
    assert status["segments"][0]["history"][0]["outcome"] == "delivered"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "Shop", "text": "x"}, "to"),
        ({"to": "abc", "from": "Shop", "text": "x"}, "to"),
        ({"to": "4917100", "from": "TwelveLetter", "text": "x"}, "from"),
        ({"to": "4917100", "from": "日本", "text": "x"}, "from"),
        ({"to": "4917100", "from": "Shop"}, "text"),
        ({"to": "4917100", "from": "Shop", "text": 5}, "text"),
        ({"to": "4917100", "from": "Shop", "text": "x", "validity_s": 10}, "validity_s"),
        ({"to": "4917100", "from": "Shop", "text": "x", "validity_s": "1"}, "validity_s"),
        ({"to": "4917100", "from": "Shop", "text": "x", "status_report": "yes"}, "status_report"),
        ({"to": "4917100", "from": "Shop", "text": "x", "bogus": 1}, "bogus"),
        ({"to": "4917100", "from": "Shop", "text": "\ud800"}, "text"),
        ([1, 2], "body"),
    ],
)
async def test_bad_input_is_422_with_the_field(api: Harness, body: Any, field: str) -> None:
    response = await api.client.post("/api/v1/messages", json=body)
    assert response.status == 422
    answer = await response.json()
    assert answer["field"] == field
    assert isinstance(answer["error"], str) and answer["error"]
    assert sum((await api.store.count_by_state()).values()) == 0


async def test_every_field_error_is_reported_at_once(api: Harness) -> None:
    body = {"to": "abc", "from": "TwelveLetter", "text": "", "validity_s": 5, "bogus": 1}
    response = await api.client.post("/api/v1/messages", json=body)
    assert response.status == 422
    answer = await response.json()
    assert sorted(e["field"] for e in answer["errors"]) == [
        "bogus",
        "from",
        "text",
        "to",
        "validity_s",
    ]
    assert (answer["field"], answer["error"]) == (
        answer["errors"][0]["field"],
        answer["errors"][0]["error"],
    )


async def test_empty_text_is_refused(api: Harness) -> None:
    body = {"to": "4917100", "from": "Shop", "text": ""}
    response = await api.client.post("/api/v1/messages", json=body)
    assert response.status == 422
    assert (await response.json())["field"] == "text"


async def test_malformed_json_and_unknown_id(api: Harness) -> None:
    response = await api.client.post("/api/v1/messages", data=b"{not json")
    assert response.status == 422
    assert await response.json() == {"error": "not valid JSON", "field": "body"}
    missing = await api.client.get("/api/v1/messages/nope")
    assert missing.status == 404
    assert (await missing.json())["field"] == "id"


async def test_deeply_nested_json_is_a_4xx_not_a_500(api: Harness) -> None:
    body = b'{"to": "4917100", "from": "Shop", "text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = await api.client.post("/api/v1/messages", data=body[: MAX_BODY_OCTETS - 1])
    assert 400 <= response.status < 500
    assert set(await response.json()) >= {"error", "field"}
    nested = b"[" * 30_000 + b"]" * 30_000
    response = await api.client.post("/api/v1/messages", data=nested)
    assert response.status == 422
    assert await response.json() == {"error": "JSON nested too deeply", "field": "body"}


async def test_a_huge_body_is_413_in_the_error_shape(api: Harness) -> None:
    text = "x" * (MAX_BODY_OCTETS + 1)
    response = await api.client.post(
        "/api/v1/messages", json={"to": "4917100", "from": "Shop", "text": text}
    )
    assert response.status == 413
    answer = await response.json()
    assert answer["field"] is None
    assert "exceeded" in answer["error"]
    assert sum((await api.store.count_by_state()).values()) == 0


async def test_unknown_path_and_wrong_method_answer_in_the_error_shape(api: Harness) -> None:
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status == 404
    assert missing.content_type == "application/json"
    assert await missing.json() == {"error": "no such resource", "field": None}
    wrong = await api.client.delete("/api/v1/messages")
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
    assert await wrong.json() == {"error": "method not allowed", "field": None}


async def test_bearer_token(secured: Harness) -> None:
    body = {"to": "4917100", "from": "Shop", "text": "x"}
    refused = await secured.client.post("/api/v1/messages", json=body)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert await refused.json() == {"error": "missing or wrong bearer token", "field": None}
    wrong = {"Authorization": "Bearer nope"}
    assert (await secured.client.post("/api/v1/messages", json=body, headers=wrong)).status == 401
    right = {"Authorization": "Bearer s3cret"}
    assert (await secured.client.post("/api/v1/messages", json=body, headers=right)).status == 201
    assert (await secured.client.get("/metrics")).status == 200  # not under /api/


async def test_metrics_count_submissions(api: Harness) -> None:
    await api.client.post("/api/v1/messages", json={"to": "4917100", "from": "S", "text": "x"})
    text = await (await api.client.get("/metrics")).text()
    assert "smsc_api_submitted_total 1.0" in text


async def test_an_unexpected_failure_is_a_500_in_the_error_shape_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    counted: list[int] = []
    app = web.Application(middlewares=[error_middleware])
    app[INTERNAL_ERROR_HOOK] = lambda: counted.append(1)
    app.router.add_get("/broken", broken)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/broken")
        assert response.status == 500
        assert await response.json() == {"error": "internal error", "field": None}
    assert counted == [1]
    assert any("GET /broken failed" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("to", "stored"),
    [
        ("+491711234567", "491711234567"),
        ("01711234567", "491711234567"),
        ("00491711234567", "491711234567"),
        ("0171 123-4567", "491711234567"),
        ("491711234567", "491711234567"),
    ],
)
async def test_recipient_is_normalised_by_the_dialling_plan(
    api: Harness, to: str, stored: str
) -> None:
    response = await api.client.post(
        "/api/v1/messages", json={"to": to, "from": "MyBank", "text": "Hi"}
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    (part,) = await api.store.get_submission(created["id"])
    assert part.message.recipient == stored
    assert api.woken == [stored]
    submit = decode_tpdu(part.message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(submit, SmsSubmit)
    assert submit.destination.value == stored


@pytest.mark.parametrize("to", ["4444", "+0171", "MyBank", "0", "+4917112345678901"])
async def test_a_short_code_or_no_number_is_not_a_recipient(api: Harness, to: str) -> None:
    response = await api.client.post("/api/v1/messages", json={"to": to, "from": "X", "text": "a"})
    assert response.status == 422
    assert (await response.json())["field"] == "to"


async def test_a_national_sender_is_normalised(api: Harness) -> None:
    response = await api.client.post(
        "/api/v1/messages", json={"to": "+491711234567", "from": "01519876543", "text": "Hi"}
    )
    assert response.status == 201
    (part,) = await api.store.get_submission((await response.json())["id"])
    assert (part.message.originator, part.message.originator_ton) == (
        "491519876543",
        TypeOfNumber.INTERNATIONAL,
    )


async def test_callback_url_and_client_ref_are_kept_with_the_message(api: Harness) -> None:
    response = await api.client.post(
        "/api/v1/messages",
        json={
            "to": "+491711234567",
            "from": "MyBank",
            "text": "Hi",
            "callback_url": "https://app.example.net/dlr/42",
            "client_ref": "order-42",
        },
    )
    assert response.status == 201
    created = await response.json()
    (part,) = await api.store.get_submission(created["id"])
    assert part.message.callback_url == "https://app.example.net/dlr/42"
    assert part.message.client_ref == "order-42"
    assert part.message.status_report  # a callback asks for the outcome
    shown = await (await api.client.get(f"/api/v1/messages/{created['id']}")).json()
    assert shown["client_ref"] == "order-42"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.net/dlr/42",
        "https://app.example.net/other",
        "http://app.example.net/dlr/42",
        "https://app.example.net/dlr/ x",
    ],
)
async def test_a_callback_outside_the_allowed_prefixes_is_refused(api: Harness, url: str) -> None:
    response = await api.client.post(
        "/api/v1/messages",
        json={"to": "+491711234567", "from": "MyBank", "text": "Hi", "callback_url": url},
    )
    assert response.status == 422
    assert (await response.json())["field"] == "callback_url"
    assert await api.store.count_by_state() in ({}, {state: 0 for state in MessageState})


async def test_client_ref_is_bounded(api: Harness) -> None:
    response = await api.client.post(
        "/api/v1/messages",
        json={"to": "+491711234567", "from": "MyBank", "text": "Hi", "client_ref": "x" * 65},
    )
    assert response.status == 422
    assert (await response.json())["field"] == "client_ref"


async def test_deliver_at_schedules_the_message(api: Harness) -> None:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    stamp = later.astimezone(timezone(timedelta(hours=-5))).isoformat()
    response = await api.client.post(
        "/api/v1/messages",
        json={
            "to": "+491710000001",
            "from": "MyBank",
            "text": "x" * 200,
            "deliver_at": stamp,
            "validity_s": 3600,
        },
    )
    assert response.status == 201
    created = await response.json()
    assert created["segments"] == 2
    status = await (await api.client.get(f"/api/v1/messages/{created['id']}")).json()
    assert status["state"] == "scheduled"
    assert status["deliver_at"] == later.isoformat()
    assert status["expires_at"] == (later + timedelta(hours=1)).isoformat()
    assert [s["state"] for s in status["segments"]] == ["scheduled", "scheduled"]
    assert status["waiting"] == f"scheduled: not delivered before {later.isoformat()}"
    assert await api.store.due_recipients(later + timedelta(days=1), 10) == []


async def test_a_deliver_at_in_the_past_is_now(api: Harness) -> None:
    response = await api.client.post(
        "/api/v1/messages",
        json={
            "to": "+491710000001",
            "from": "MyBank",
            "text": "Hi",
            "deliver_at": "2020-01-01T00:00:00Z",
        },
    )
    assert response.status == 201
    status = await (
        await api.client.get(f"/api/v1/messages/{(await response.json())['id']}")
    ).json()
    assert (status["state"], status["deliver_at"]) == ("queued", None)


@pytest.mark.parametrize(
    ("deliver_at", "message"),
    [
        ("2030-01-01T00:00:00", "timezone"),  # no offset
        ("tomorrow", "datetime"),
        (timedelta(days=7, seconds=60), "more than 7 days ahead"),
    ],
    ids=["no-offset", "not-a-time", "too-far"],
)
async def test_a_bad_deliver_at_is_422(
    api: Harness, deliver_at: str | timedelta, message: str
) -> None:
    if isinstance(deliver_at, timedelta):
        deliver_at = (datetime.now(UTC) + deliver_at).isoformat()
    response = await api.client.post(
        "/api/v1/messages",
        json={"to": "+491710000001", "from": "MyBank", "text": "Hi", "deliver_at": deliver_at},
    )
    assert response.status == 422
    body = await response.json()
    assert body["field"] == "deliver_at"
    assert message in body["error"]
    assert await api.store.count_by_state() == dict.fromkeys(MessageState, 0)
