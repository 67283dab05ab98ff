"""Delivery of stored AML reports to PSAPs over HTTP(S): persisted first, retried until 2xx.

`PsapDelivery.submit()` stores the report (durable when it returns: send the RP-ACK after it)
and wakes the worker. The worker is the service's one HTTP delivery engine
(`smsc.outbox.engine.HttpDelivery`) over the AML store: it claims due reports, POSTs them
concurrently (bounded) through one shared aiohttp session, and retries anything but a 2xx
with exponential backoff and jitter, forever: a report is never given up. On start, reports a
stopped process left in `delivering` are requeued. A monitor keeps
`smsc_aml_oldest_pending_seconds` current and raises one alert (ERROR log +
`smsc_aml_alerts_total`) per report still undelivered after `alert_after_s`.

Delivery is at least once: a process stopped between the PSAP's 2xx and the commit of that
attempt sends the report again after restart. Every POST carries `X-AML-Report-ID` and
`Idempotency-Key` (both the report's id) so a PSAP can drop duplicates.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aml.store import AmlStore, NewAmlReport, StoredAmlReport
from smsc.api.metrics import CachedCounter
from smsc.outbox.engine import (
    Attempted,
    Claim,
    HttpDelivery,
    HttpRequest,
    RenderError,
    Unreachable,
    parse_header_line,
)
from smsc.redact import subscriber
from smsc.settings import PsapRoute

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

PsapUnreachable = Unreachable
"""A POST to a PSAP got no answer: refused, reset, timed out, or its TLS failed."""


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
    """The AML delivery worker: submit() persists and wakes; start()/stop() run the engine.

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
        on_internal_error: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._render = render
        self._targets = {route.name: _target_of(route) for route in routes}
        self.metrics = PsapMetrics(registry if registry is not None else CollectorRegistry())
        self._alert_after_s = alert_after_s
        longest = max((t.timeout_s for t in self._targets.values()), default=2.0)
        self._engine = HttpDelivery[StoredAmlReport](
            store,
            self,
            name="aml",
            alert_after_s=alert_after_s,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
            max_in_flight=max_in_flight,
            poll_interval_s=poll_interval_s,
            monitor_interval_s=monitor_interval_s,
            requeue_on_start=requeue_on_start,
            lease_s=max(longest, 2.0) + 30.0,
            on_internal_error=on_internal_error,
            clock=clock,
            rng=rng,
        )

    # -- lifecycle and intake -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session, requeue what a stopped process left, start the loops."""
        await self._engine.start()

    async def stop(self, *, grace_s: float = 2.0) -> None:
        """Stop claiming; give in-flight POSTs `grace_s`; a cancelled one is sent after restart."""
        await self._engine.stop(grace_s=grace_s)

    async def submit(self, report: NewAmlReport) -> int:
        """Persist the report (durable on return) and have it delivered; returns its id."""
        report_id = await self._store.add_report(report)
        self.metrics.received.inc()
        log.debug("aml: report %d persisted for route %s", report_id, report.route_name)
        self.wake()
        return report_id

    def wake(self) -> None:
        """Look for due reports now (e.g. another component stored one)."""
        self._engine.wake()

    @property
    def in_flight(self) -> int:
        """POSTs under way."""
        return self._engine.in_flight

    # -- DeliveryKind: what AML adds to the engine ----------------------------------------------

    def claim_of(self, job: StoredAmlReport) -> Claim:
        return Claim(job.id, job.attempts, job.report.received_at, self._target_for(job).route)

    async def request_of(self, job: StoredAmlReport) -> HttpRequest:
        target = self._target_for(job)
        try:
            body, content_type = self._render(job)
        except Exception as exc:  # a renderer bug must not lose the report: kept, retried
            log.exception("aml: cannot render report %d", job.id)
            raise RenderError(f"{type(exc).__name__}: {exc}") from exc
        headers = [(REPORT_ID_HEADER, str(job.id))]
        if target.header is not None:
            headers.append(target.header)
        return HttpRequest(
            target.url,
            body,
            content_type,
            tuple(headers),
            target.timeout_s,
            target.verify_tls,
            target.route,
        )

    def attempted(self, job: StoredAmlReport, attempt: Attempted) -> None:
        route = attempt.claim.label
        self.metrics.attempts.labels(route, attempt.outcome).inc()
        if attempt.ok:
            self.metrics.delivered.labels(route).inc()
            self.metrics.latency.observe(
                max((attempt.at - job.report.received_at).total_seconds(), 0.0)
            )
            log.info("aml: report %d delivered to %s (%s)", job.id, route, attempt.http_status)
        else:
            log.warning(
                "aml: report %d to %s failed (attempt %d): %s",
                job.id,
                route,
                job.attempts + 1,
                attempt.error,
            )

    async def overdue(self, job_id: int, now: datetime) -> None:
        self.metrics.alerts.inc()
        stored = await self._store.get(job_id)
        if stored is None:
            return
        log.error(
            "aml: ALERT report %d from %s to %s (route %s) undelivered after %.0f s "
            "(%d attempts, last: %s)",
            job_id,
            subscriber(stored.report.sender_msisdn),
            stored.report.destination,
            stored.report.route_name,
            (now - stored.report.received_at).total_seconds(),
            stored.attempts,
            stored.last_error or stored.last_http_status,
        )

    def in_flight_count(self, count: int) -> None:
        self.metrics.in_flight.set(count)

    def oldest_pending(self, age_s: float) -> None:
        self.metrics.oldest_pending.set(age_s)

    def _target_for(self, stored: StoredAmlReport) -> _Target:
        target = self._targets.get(stored.report.route_name)
        if target is None:
            return _Target(stored.report.route_name, stored.report.url, 2.0, True, None)
        return target


def _target_of(route: PsapRoute) -> _Target:
    header = None if route.auth_header is None else parse_header_line(route.auth_header)
    return _Target(route.name, route.url, route.timeout_ms / 1000, route.verify_tls, header)
