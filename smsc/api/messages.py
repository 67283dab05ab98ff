"""POST /api/v1/messages and GET /api/v1/messages/{id} (DESIGN.md §4)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from smsc.api.metrics import Metrics
from smsc.service.model import MessageState, StoredMessage
from smsc.service.ports import MessageStore
from smsc.service.submit import SubmissionError, build_messages, parse_submission


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def submission_state(parts: list[StoredMessage]) -> MessageState:
    """The state of a whole submission from the states of its segments."""
    states = {part.state for part in parts}
    for state in (MessageState.FAILED, MessageState.EXPIRED):
        if state in states:
            return state
    if states == {MessageState.DELIVERED}:
        return MessageState.DELIVERED
    if MessageState.DELIVERING in states or MessageState.DELIVERED in states:
        return MessageState.DELIVERING
    return MessageState.QUEUED


def describe_submission(submission_id: str, parts: list[StoredMessage]) -> dict[str, Any]:
    """The JSON body of GET /api/v1/messages/{id}."""
    first = parts[0].message
    delivered = [p.delivered_at for p in parts if p.delivered_at is not None]
    updated = [p.updated_at for p in parts if p.updated_at is not None]
    return {
        "id": submission_id,
        "state": str(submission_state(parts)),
        "to": "+" + first.recipient,
        "from": first.originator if first.originator_ton == 5 else "+" + first.originator,
        "origin": str(first.origin),
        "created_at": _iso(first.received_at),
        "updated_at": _iso(max(updated, default=None)),
        "delivered_at": _iso(max(delivered)) if len(delivered) == len(parts) else None,
        "expires_at": _iso(first.expires_at),
        "roaming_status": first.roaming_status,
        "visited_plmn": first.visited_plmn,
        "segments": [
            {
                "segment": p.message.segment,
                "state": str(p.state),
                "attempts": p.attempts,
                "last_sip_status": p.last_sip_status,
                "last_rp_cause": p.last_rp_cause,
                "next_attempt_at": _iso(p.next_attempt_at),
                "history": [
                    {
                        "at": _iso(a.at),
                        "sip_status": a.sip_status,
                        "rp_cause": a.rp_cause,
                        "outcome": a.outcome,
                    }
                    for a in p.history
                ],
            }
            for p in parts
        ],
    }


def _error(status: int, field: str, message: str) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status)


def message_routes(
    store: MessageStore, metrics: Metrics, on_submitted: Callable[[list[str]], None]
) -> list[web.RouteDef]:
    """The message API on `store`; `on_submitted` is told the recipients of new messages."""

    async def post_message(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(422, "body", "not valid JSON")
        try:
            submission = parse_submission(body)
            messages = build_messages(submission, datetime.now(UTC))
        except SubmissionError as exc:
            return _error(422, exc.field, str(exc))
        await store.add_many(messages)
        metrics.api_submitted.inc(len(messages))
        on_submitted([submission.recipient])
        return web.json_response(
            {"id": messages[0].submission_id, "segments": len(messages)}, status=201
        )

    async def get_message(request: web.Request) -> web.Response:
        submission_id = request.match_info["id"]
        parts = await store.get_submission(submission_id)
        if not parts:
            return _error(404, "id", f"no message {submission_id}")
        document = describe_submission(submission_id, parts)
        document["charging"] = [
            {
                "at": _iso(record.at),
                "session_id": record.session_id,
                "outcome": record.outcome,
                "result_code": record.result_code,
                "units": record.units,
                "granted_units": record.granted_units,
                "roaming_status": record.roaming_status,
                "visited_plmn": record.visited_plmn,
                "peer": record.peer,
                "retransmitted": record.retransmitted,
                "latency_ms": record.latency_ms,
            }
            for record in await store.charging_records(submission_id)
        ]
        return web.json_response(document)

    return [
        web.post("/api/v1/messages", post_message),
        web.get("/api/v1/messages/{id}", get_message),
    ]


def bearer_auth(token: str | None) -> Any:
    """Middleware: with a token configured, /api/ requires `Authorization: Bearer <token>`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        presented = request.headers.get("Authorization", "").encode()
        expected = f"Bearer {token}".encode()
        if (
            token is not None
            and request.path.startswith("/api/")
            and not hmac.compare_digest(presented, expected)
        ):
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        response: web.StreamResponse = await handler(request)
        return response

    return middleware
