"""Delivery of stored AML reports to PSAPs over HTTP(S): persisted first, retried until 2xx.

`PsapDelivery.submit()` stores the report (durable when it returns: send the RP-ACK after it)
and wakes the worker, which claims due reports from the AmlStore and POSTs them concurrently
(bounded) through one shared aiohttp session. A 2xx is delivery; anything else (HTTP error,
refused connection, timeout, TLS failure) is recorded and retried with exponential backoff and
jitter, forever: a report is never given up. On start, reports a stopped process left in
`delivering` are requeued. A monitor keeps `smsc_aml_oldest_pending_seconds` current and raises
one alert (ERROR log + `smsc_aml_alerts_total`) per report still undelivered after
`alert_after_s`.

Delivery is at least once: a process stopped between the PSAP's 2xx and the commit of that
attempt sends the report again after restart. Every POST carries `X-AML-Report-ID` so a PSAP
can drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aml.store import AmlStore, NewAmlReport, StoredAmlReport
from smsc.api.metrics import CachedCounter
from smsc.errors import SmscError
from smsc.redact import subscriber
from smsc.settings import PsapRoute
from smsc.store.errors import StoreError

__all__ = [
    "REPORT_ID_HEADER",
    "PsapDelivery",
    "PsapMetrics",
    "PsapUnreachable",
    "Renderer",
    "parse_header_line",
]

log = logging.getLogger(__name__)

Renderer = Callable[[StoredAmlReport], tuple[bytes, str]]
"""Body and Content-Type of the POST for one report (aml.formats renders the route's format)."""

REPORT_ID_HEADER = "X-AML-Report-ID"
"""Sent with every POST: the report's id, the same on every retry (for PSAP de-duplication)."""

_ERROR_BODY_CHARS = 200
_USER_AGENT = "smsc-aml/1"


class PsapUnreachable(SmscError):  # noqa: N818 (the name of the error tree, docs/architecture.md)
    """A POST to a PSAP got no answer: refused, reset, timed out, or its TLS failed."""

    def __init__(self, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        """Metric label: connect_error | timeout | tls_error."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes


def parse_header_line(line: str) -> tuple[str, str]:
    """("Authorization", "Bearer x") from "Authorization: Bearer x"; ValueError if malformed."""
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name or not value or any(c.isspace() for c in name):
        raise ValueError(f"not a 'Name: value' header line: {line!r}")
    return name, value


class PsapMetrics:
    """The AML delivery metrics, on the service's registry (smsc.api.metrics.Metrics.registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.received = CachedCounter(
            "smsc_aml_received", "AML reports and emergency texts persisted for a PSAP",
            registry=r,
        )  # fmt: skip
        self.delivered = CachedCounter(
            "smsc_aml_delivered", "AML reports delivered (PSAP answered 2xx), by route", ["route"],
            registry=r,
        )  # fmt: skip
        self.attempts = CachedCounter(
            "smsc_aml_attempts",
            "POSTs of AML reports to PSAPs, by route and outcome "
            "(delivered, http_error, connect_error, timeout, tls_error, render_error)",
            ["route", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "smsc_aml_delivery_latency_seconds",
            "AML report received by the SMSC -> PSAP answered 2xx",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
        )
        self.oldest_pending = Gauge(
            "smsc_aml_oldest_pending_seconds",
            "Age of the oldest AML report not yet delivered (0 when none)",
            registry=r,
        )
        self.alerts = Counter(
            "smsc_aml_alerts",
            "AML reports found undelivered longer than aml.alert_after_s (one per report)",
            registry=r,
        )
        self.in_flight = Gauge(
            "smsc_aml_in_flight", "AML report POSTs currently in flight", registry=r
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where and how one report is POSTed."""

    route: str
    url: str
    timeout_s: float
    verify_tls: bool
    header: tuple[str, str] | None


class PsapDelivery:
    """The AML delivery worker: submit() persists and wakes; start()/stop() run the loop.

    Routes are looked up by the report's `route_name` (URL, timeout, TLS, auth header of the
    current configuration); a report whose route is no longer configured goes to the URL
    snapshot it was stored with, with default timeout, TLS verification and no auth header.
    """

    def __init__(
        self,
        store: AmlStore,
        routes: Iterable[PsapRoute],
        render: Renderer,
        *,
        registry: CollectorRegistry | None = None,
        alert_after_s: float = 60.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 30.0,
        max_in_flight: int = 32,
        poll_interval_s: float = 1.0,
        monitor_interval_s: float | None = None,
        requeue_on_start: bool = True,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if retry_initial_s <= 0 or retry_max_s < retry_initial_s:
            raise ValueError("need 0 < retry_initial_s <= retry_max_s")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._store = store
        self._render = render
        self._targets = {route.name: _target_of(route) for route in routes}
        self.metrics = PsapMetrics(registry if registry is not None else CollectorRegistry())
        self._alert_after_s = alert_after_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._max_in_flight = max_in_flight
        self._poll_interval_s = poll_interval_s
        self._monitor_interval_s = (
            monitor_interval_s
            if monitor_interval_s is not None
            else min(5.0, max(0.05, alert_after_s / 4))
        )
        self._requeue_on_start = requeue_on_start
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()
        longest = max((t.timeout_s for t in self._targets.values()), default=2.0)
        self._lease_s = max(longest, 2.0) + 30.0
        """A claim outlives the slowest POST; then a crashed claimer's reports are re-claimed."""
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._alerted: set[int] = set()
        self._running = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session, requeue what a stopped process left, start the loops."""
        if self._running:
            return
        if self._requeue_on_start:
            requeued = await self._store.requeue_delivering()
            if requeued:
                log.warning("aml: %d report(s) left in delivering requeued", requeued)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_in_flight),
            headers={"User-Agent": _USER_AGENT},
        )
        self._running = True
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._run(), name="aml-delivery"),
            asyncio.create_task(self._monitor(), name="aml-monitor"),
        ]

    async def stop(self, *, grace_s: float = 2.0) -> None:
        """Stop claiming; give in-flight POSTs `grace_s` to finish; cancel the rest.

        A cancelled POST leaves its report in delivering: the next start requeues it.
        """
        if not self._running:
            return
        self._running = False
        self._wake.set()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        pending = list(self._in_flight.values())
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._in_flight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- intake ---------------------------------------------------------------------------------

    async def submit(self, report: NewAmlReport) -> int:
        """Persist the report (durable on return) and have it delivered; returns its id."""
        report_id = await self._store.add_report(report)
        self.metrics.received.inc()
        log.debug("aml: report %d persisted for route %s", report_id, report.route_name)
        self.wake()
        return report_id

    def wake(self) -> None:
        """Look for due reports now (e.g. another component stored one)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """POSTs under way."""
        return len(self._in_flight)

    # -- the loops ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Claim due reports while there is room in flight; sleep until woken or polled."""
        failures = 0
        while self._running:
            self._wake.clear()
            room = self._max_in_flight - len(self._in_flight)
            claimed: list[StoredAmlReport] = []
            if room > 0:
                try:
                    claimed = await self._store.claim_due(
                        self._clock(), room, lease_s=self._lease_s
                    )
                    failures = 0
                except StoreError as exc:
                    failures += 1
                    delay = self._backoff(failures)
                    log.error("aml: cannot claim reports (%s); again in %.1f s", exc, delay)
                    await self._sleep_or_wake(delay)
                    continue
            for stored in claimed:
                task = asyncio.create_task(self._deliver(stored), name=f"aml-{stored.id}")
                self._in_flight[stored.id] = task
                self.metrics.in_flight.set(len(self._in_flight))
            if len(claimed) == room and room > 0:
                continue  # perhaps more are due; the room is gone anyway if they were
            await self._sleep_or_wake(self._poll_interval_s)

    async def _sleep_or_wake(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _monitor(self) -> None:
        """Keep the oldest-pending gauge current; alert once per overdue report."""
        while self._running:
            try:
                await self._check_overdue()
            except StoreError as exc:
                log.error("aml: cannot check for overdue reports: %s", exc)
            await asyncio.sleep(self._monitor_interval_s)

    async def _check_overdue(self) -> None:
        now = self._clock()
        age = await self._store.oldest_pending_age(now)
        self.metrics.oldest_pending.set(max(age or 0.0, 0.0))
        if age is None or age <= self._alert_after_s:
            self._alerted.clear()
            return
        limit = 1000
        cutoff = now - timedelta(seconds=self._alert_after_s)
        overdue = await self._store.overdue(cutoff, limit)
        for report_id in overdue:
            if report_id in self._alerted:
                continue
            self._alerted.add(report_id)
            self.metrics.alerts.inc()
            stored = await self._store.get(report_id)
            if stored is None:
                continue
            log.error(
                "aml: ALERT report %d from %s to %s (route %s) undelivered after %.0f s "
                "(%d attempts, last: %s)",
                report_id,
                subscriber(stored.report.sender_msisdn),
                stored.report.destination,
                stored.report.route_name,
                (now - stored.report.received_at).total_seconds(),
                stored.attempts,
                stored.last_error or stored.last_http_status,
            )
        if len(overdue) < limit:
            self._alerted.intersection_update(overdue)

    # -- one delivery ---------------------------------------------------------------------------

    async def _deliver(self, stored: StoredAmlReport) -> None:
        """POST one claimed report and record the outcome; never raises."""
        target = self._target_for(stored)
        try:
            status: int | None = None
            error: str | None = None
            try:
                body, content_type = self._render(stored)
            except Exception as exc:  # a renderer bug must not lose the report
                log.exception("aml: cannot render report %d", stored.id)
                outcome, error = "render_error", f"render: {type(exc).__name__}: {exc}"
            else:
                try:
                    answer = await self._post(target, stored.id, body, content_type)
                except PsapUnreachable as exc:
                    outcome, error = exc.outcome, str(exc)
                else:
                    status = answer.status
                    if 200 <= status < 300:
                        outcome = "delivered"
                    else:
                        outcome = "http_error"
                        text = answer.body[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
                        error = f"HTTP {status}: {text}".strip()
            at = self._clock()
            ok = outcome == "delivered"
            next_at = None if ok else at + timedelta(seconds=self._backoff(stored.attempts + 1))
            self.metrics.attempts.labels(target.route, outcome).inc()
            if ok:
                self.metrics.delivered.labels(target.route).inc()
                self.metrics.latency.observe(
                    max((at - stored.report.received_at).total_seconds(), 0.0)
                )
                log.info("aml: report %d delivered to %s (%s)", stored.id, target.route, status)
            else:
                log.warning(
                    "aml: report %d to %s failed (attempt %d): %s",
                    stored.id,
                    target.route,
                    stored.attempts + 1,
                    error,
                )
            await self._record(stored.id, at, ok, status=status, error=error, next_at=next_at)
            if next_at is not None:
                self._wake_at(next_at)
        finally:
            self._in_flight.pop(stored.id, None)
            self.metrics.in_flight.set(len(self._in_flight))
            self._wake.set()

    async def _post(
        self, target: _Target, report_id: int, body: bytes, content_type: str
    ) -> _Answer:
        """POST and read the answer; library errors become PsapUnreachable."""
        session = self._session
        if session is None:
            raise PsapUnreachable("delivery stopped", outcome="connect_error")
        headers = {"Content-Type": content_type, REPORT_ID_HEADER: str(report_id)}
        if target.header is not None:
            headers[target.header[0]] = target.header[1]
        try:
            async with session.post(
                target.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=target.timeout_s),
                ssl=target.verify_tls,
                allow_redirects=False,
            ) as response:
                return _Answer(response.status, await response.read())
        except TimeoutError as exc:
            raise PsapUnreachable(
                f"timeout after {target.timeout_s * 1000:.0f} ms", outcome="timeout"
            ) from exc
        except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
            raise PsapUnreachable(f"TLS: {exc}", outcome="tls_error") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise PsapUnreachable(f"{type(exc).__name__}: {exc}", outcome="connect_error") from exc

    async def _record(
        self,
        report_id: int,
        at: datetime,
        ok: bool,
        *,
        status: int | None,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        """Record the attempt, retrying while the store is unavailable (and we run).

        If it never commits, the report stays in delivering: its lease expires (or the next
        start requeues it) and it is sent again.
        """
        failures = 0
        while True:
            try:
                await self._store.record_attempt(
                    report_id, at, ok, http_status=status, error=error, next_attempt_at=next_at
                )
                return
            except StoreError as exc:
                failures += 1
                if not self._running:
                    log.error("aml: attempt of report %d not recorded: %s", report_id, exc)
                    return
                delay = min(self._backoff(failures), 5.0)
                log.error(
                    "aml: cannot record attempt of report %d (%s); again in %.1f s",
                    report_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    # -- helpers --------------------------------------------------------------------------------

    def _target_for(self, stored: StoredAmlReport) -> _Target:
        target = self._targets.get(stored.report.route_name)
        if target is None:
            return _Target(stored.report.route_name, stored.report.url, 2.0, True, None)
        return target

    def _backoff(self, attempt: int) -> float:
        """Seconds before retry number `attempt` (1 = after the first failure), jittered."""
        ceiling = min(self._retry_max_s, self._retry_initial_s * 2.0 ** min(attempt - 1, 40))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _wake_at(self, moment: datetime) -> None:
        """Have the loop look for due reports at `moment` (a retry time)."""
        if not self._running:
            return
        delay = max((moment - self._clock()).total_seconds(), 0.0) + 0.001
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._wake.set()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)


def _target_of(route: PsapRoute) -> _Target:
    header = None if route.auth_header is None else parse_header_line(route.auth_header)
    return _Target(route.name, route.url, route.timeout_ms / 1000, route.verify_tls, header)
