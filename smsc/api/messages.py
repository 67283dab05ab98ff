"""POST /api/v1/messages and GET /api/v1/messages/{id}."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from smsc.api.errors import error_response
from smsc.api.message_request import RequestError, RequestPolicy, parse_message_request
from smsc.api.metrics import Metrics
from smsc.redact import subscriber
from smsc.routing.numbering import DiallingPlan
from smsc.service.model import MessageState, StoredMessage
from smsc.service.ports import MessageStore, RouteExplainer
from smsc.service.submit import SubmissionError, build_messages
from smsc.settings import NumberingSettings

log = logging.getLogger("smsc.api")

PARKED_CAUSE = 22
"""TS 24.011 RP-Cause 22, memory capacity exceeded: the recipient waits for RP-SMMA."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def submission_state(parts: list[StoredMessage]) -> MessageState:
    """The state of a whole submission from the states of its segments."""
    states = {part.state for part in parts}
    for state in (MessageState.FAILED, MessageState.EXPIRED, MessageState.CANCELLED):
        if state in states:
            return state
    if states == {MessageState.DELIVERED}:
        return MessageState.DELIVERED
    if MessageState.DELIVERING in states or MessageState.DELIVERED in states:
        return MessageState.DELIVERING
    if states == {MessageState.SCHEDULED}:
        return MessageState.SCHEDULED
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
        "from": "+" + first.originator if first.originator_ton == 1 else first.originator,
        "origin": str(first.origin),
        "created_at": _iso(first.received_at),
        "updated_at": _iso(max(updated, default=None)),
        "delivered_at": _iso(max(delivered)) if len(delivered) == len(parts) else None,
        "expires_at": _iso(first.expires_at),
        "deliver_at": _iso(first.deliver_at),
        "roaming_status": first.roaming_status,
        "visited_plmn": first.visited_plmn,
        "client_ref": first.client_ref,
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


async def why_waiting(
    parts: list[StoredMessage], explainer: RouteExplainer | None, now: datetime
) -> str | None:
    """Why a submission still in `scheduled` or `queued` has not been delivered, or None."""
    queued = [p for p in parts if p.state is MessageState.QUEUED]
    scheduled = [p for p in parts if p.state is MessageState.SCHEDULED]
    if not queued:
        if scheduled and scheduled[0].message.deliver_at is not None:
            return f"scheduled: not delivered before {_iso(scheduled[0].message.deliver_at)}"
        return None
    head = queued[0]
    if head.last_rp_cause == PARKED_CAUSE:
        return (
            "the recipient's memory is full (RP-Cause 22): "
            "waiting for RP-SMMA or a new registration"
        )
    if head.next_attempt_at is not None and head.next_attempt_at > now:
        last = (
            f"RP-Cause {head.last_rp_cause}"
            if head.last_rp_cause is not None
            else f"SIP {head.last_sip_status}"
            if head.last_sip_status is not None
            else "a temporary failure"
        )
        return f"next attempt at {head.next_attempt_at.isoformat()} after {last}"
    if explainer is None:
        return None
    return await explainer.why_unroutable(head.message.recipient)


def message_routes(
    store: MessageStore,
    metrics: Metrics,
    on_submitted: Callable[[list[str]], None],
    explainer: RouteExplainer | None = None,
    policy: RequestPolicy | None = None,
) -> list[web.RouteDef]:
    """The message API on `store`; `on_submitted` is told the recipients of new messages."""

    checks = policy or RequestPolicy(DiallingPlan.of(NumberingSettings()))

    async def post_message(request: web.Request) -> web.Response:
        try:
            submission = parse_message_request(await request.read(), checks).submission(checks.plan)
            messages = build_messages(submission, datetime.now(UTC))
        except RequestError as exc:
            field, message = exc.problems[0]
            log.warning("API submission refused: %s: %s", field, message)
            return error_response(422, message, field, errors=exc.problems)
        except SubmissionError as exc:
            log.warning("API submission refused: %s", exc)
            return error_response(422, str(exc).split(": ", 1)[-1], exc.field)
        await store.add_many(messages)
        metrics.api_submitted.inc(len(messages))
        on_submitted([submission.recipient])
        submission_id = messages[0].submission_id
        log.debug(
            "API submission %s: %d segment(s) to %s",
            submission_id,
            len(messages),
            subscriber("+" + submission.recipient),
        )
        return web.json_response({"id": submission_id, "segments": len(messages)}, status=201)

    async def get_message(request: web.Request) -> web.Response:
        submission_id = request.match_info["id"]
        parts = await store.get_submission(submission_id)
        if not parts:
            return error_response(404, f"no message {submission_id}", "id")
        document = describe_submission(submission_id, parts)
        document["waiting"] = await why_waiting(parts, explainer, datetime.now(UTC))
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
