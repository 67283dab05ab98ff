"""The handsets' AML intake (ETSI TS 103 625 HTTPS form, POST /aml) on a listener of its own:
allowed networks, a rate per source, a size limit, and only well-formed AML reports
forwarded to a PSAP."""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aiohttp import web

from aml.errors import AmlParseError
from aml.formats import parse_etsi_https
from aml.model import AmlReport
from smsc.api.errors import error_middleware, error_response
from smsc.api.rate_limit import SourceRateLimit
from smsc.store.errors import StoreError

log = logging.getLogger("smsc.aml.intake")

FORM = "application/x-www-form-urlencoded"

Accept = Callable[[bytes, AmlReport, datetime], Awaitable[int]]
"""Persist a parsed report for its PSAP (durable on return); its id."""


_EXTRA_KEY = re.compile(r"(device|cell|location|emergency)_[a-z0-9_]{1,40}")
"""Fields beyond the ones we model that the ETSI form may carry (device_model, cell_id...)."""


def intake_problems(report: AmlReport) -> list[str]:
    """Why a strictly parsed form is still not an AML report to forward ([] when it is)."""
    problems = []
    if report.location is None:
        problems.append("no location (location_latitude, location_longitude)")
    strange = sorted(key for key, _ in report.extra if not _EXTRA_KEY.fullmatch(key))
    if strange:
        problems.append(f"unknown field(s) {', '.join(repr(k[:40]) for k in strange[:5])}")
    return problems


def _allowed(networks: Sequence[str]) -> Callable[[str | None], bool]:
    parsed = [ipaddress.ip_network(n, strict=False) for n in networks]

    def allowed(remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in parsed)

    return allowed


def build_intake_app(
    accept: Accept,
    *,
    allowed_networks: Sequence[str],
    limit: SourceRateLimit,
    max_body: int,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """The aiohttp application of `aml.intake.listen`: POST /aml only."""
    allowed = _allowed(allowed_networks)

    async def intake(request: web.Request) -> web.Response:
        source = request.remote
        if not allowed(source):
            log.warning("AML intake: %s is not in aml.intake.allowed_networks", source)
            return error_response(403, "source not allowed")
        wait = limit.take(source or "", clock())
        if wait > 0:
            log.warning("AML intake: %s above aml.intake.rate_per_s", source)
            return error_response(
                429, "too many reports from this source", headers={"Retry-After": _seconds(wait)}
            )
        if request.content_type != FORM:
            return error_response(415, f"expected {FORM}", "body")
        body = await request.read()
        try:
            report = parse_etsi_https(body, strict=True)
        except AmlParseError as exc:
            log.warning("AML intake: a malformed report from %s refused", source)
            return error_response(400, f"not a well-formed AML report: {exc}", "body")
        problems = intake_problems(report)
        if problems:
            log.warning("AML intake: a malformed report from %s refused", source)
            return error_response(
                400, f"not a well-formed AML report: {'; '.join(problems)}", "body"
            )
        try:
            report_id = await accept(body, report, datetime.now(UTC))
        except StoreError as exc:
            return error_response(503, f"store unavailable: {exc}")
        return web.json_response({"id": str(report_id)}, status=201)

    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    app.add_routes([web.post("/aml", intake)])
    return app


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
