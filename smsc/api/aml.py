"""GET /api/v1/aml/{id} (one AML report with every attempt) and GET /api/v1/aml (recent ones)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from aml.store import AmlStore, StoredAmlReport
from smsc.api.errors import error_response
from smsc.store.errors import StoreError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "aml_routes", "describe_report"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parsed(parsed_json: str) -> Any:
    """The stored parsed report as JSON; kept as a string if it is not valid JSON."""
    try:
        return json.loads(parsed_json)
    except ValueError:
        return parsed_json


def describe_report(stored: StoredAmlReport, *, history: bool = True) -> dict[str, Any]:
    """The JSON of one report: who sent what, where it goes, its state and attempts."""
    report = stored.report
    latency = (
        None
        if stored.delivered_at is None
        else round((stored.delivered_at - report.received_at).total_seconds() * 1000, 3)
    )
    body: dict[str, Any] = {
        "id": stored.id,
        "state": str(stored.state),
        "received_at": _iso(report.received_at),
        "sender": report.sender_msisdn,
        "destination": report.destination,
        "route": report.route_name,
        "format": report.format,
        "url": report.url,
        "roaming_status": report.roaming_status,
        "visited_plmn": report.visited_plmn,
        "attempts": stored.attempts,
        "last_http_status": stored.last_http_status,
        "last_error": stored.last_error,
        "next_attempt_at": _iso(stored.next_attempt_at),
        "delivered_at": _iso(stored.delivered_at),
        "latency_ms": latency,
        "raw_text": report.raw_text,
        "report": _parsed(report.parsed_json),
    }
    if history:
        body["history"] = [
            {"at": _iso(a.at), "ok": a.ok, "http_status": a.http_status, "error": a.error}
            for a in stored.history
        ]
    return body


def _error(status: int, field: str, message: str) -> web.Response:
    return error_response(status, message, field)


def _unavailable(exc: StoreError) -> web.Response:
    return error_response(503, f"store unavailable: {exc}")


def aml_routes(store: AmlStore) -> list[web.RouteDef]:
    """The AML report API on `store`."""

    async def get_report(request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
            return _error(422, "id", f"not a report id: {raw!r}")
        try:
            stored = await store.get(int(raw))
        except StoreError as exc:
            return _unavailable(exc)
        if stored is None:
            return _error(404, "id", f"no AML report {raw}")
        return web.json_response(describe_report(stored))

    async def list_reports(request: web.Request) -> web.Response:
        raw = request.query.get("limit", str(DEFAULT_LIMIT))
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:6]) <= MAX_LIMIT:
            return _error(422, "limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
        try:
            reports = await store.recent(int(raw))
        except StoreError as exc:
            return _unavailable(exc)
        return web.json_response({"reports": [describe_report(r, history=False) for r in reports]})

    return [
        web.get("/api/v1/aml", list_reports),
        web.get("/api/v1/aml/{id}", get_report),
    ]
