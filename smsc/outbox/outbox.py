"""The outbox: applications' MO and delivery reports, kept, then POSTed by the HTTP delivery
engine until a 2xx (or until the job's time runs out)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from smsc.api.metrics import CachedCounter
from smsc.outbox.engine import Attempted, Claim, HttpDelivery, HttpRequest, RenderError
from smsc.outbox.jobs import (
    HTTP_KINDS,
    SMPP_KINDS,
    NewOutboxJob,
    OutboxKind,
    OutboxState,
    StoredOutboxJob,
)
from smsc.outbox.kind_view import OutboxView
from smsc.service.model import DuplicateKey
from smsc.service.ports import OutboxStore
from smsc.settings import OutboxSettings

__all__ = ["Composer", "Outbox", "OutboxMetrics"]

log = logging.getLogger(__name__)

Composer = Callable[[Sequence[StoredOutboxJob]], bytes]
"""The POSTed body of a job from its rows (one, or a concatenated message's segments)."""


class OutboxMetrics:
    """smsc_outbox_*, by kind and target (the application's name, callback or webhook)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.kept = CachedCounter(
            "smsc_outbox_kept", "Jobs kept in the outbox, by kind and target", ["kind", "target"],
            registry=r,
        )  # fmt: skip
        self.attempts = CachedCounter(
            "smsc_outbox_attempts",
            "POSTs of outbox jobs, by kind, target and outcome (delivered, http_error, "
            "connect_error, timeout, tls_error, render_error)",
            ["kind", "target", "outcome"],
            registry=r,
        )
        self.delivered = CachedCounter(
            "smsc_outbox_delivered",
            "Outbox jobs delivered (2xx), by kind and target",
            ["kind", "target"],
            registry=r,
        )
        self.in_flight = Gauge("smsc_outbox_in_flight", "Outbox POSTs in flight", registry=r)
        self.jobs = Gauge(
            "smsc_outbox_jobs",
            "Outbox jobs by kind and state (held, pending, delivering, delivered, expired)",
            ["kind", "state"],
            registry=r,
        )
        self.oldest_pending = Gauge(
            "smsc_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbox job (0 when none)",
            registry=r,
        )
        self.alerts = Counter(
            "smsc_outbox_alerts",
            "Outbox jobs found undelivered longer than outbox.alert_after_s (one per job)",
            registry=r,
        )


class Outbox:
    """OutboxSubmitter: `submit` keeps a job (durable on return) and wakes the engine, which
    POSTs it with `Idempotency-Key` = its id until a 2xx."""

    def __init__(
        self,
        store: OutboxStore,
        settings: OutboxSettings,
        *,
        registry: CollectorRegistry | None = None,
        composers: Mapping[OutboxKind, Composer] | None = None,
        headers: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        poll_interval_s: float = 5.0,
        requeue_on_start: bool = True,
        on_internal_error: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        """A new job wakes the engine at once, and so does each retry time; the poll
        (`poll_interval_s`) only finds other instances' expired leases, expiries and groups
        whose reassembly time ran out. `requeue_on_start` makes every job left in delivering
        due at start: right for an instance alone on its database; with others (PostgreSQL)
        pass False, and a dead instance's jobs come back when their lease runs out instead of
        being sent twice while a live one POSTs them. `on_internal_error` counts what the
        engine's top-level handlers catch."""
        self.metrics = OutboxMetrics(registry if registry is not None else CollectorRegistry())
        self._composers = dict(composers or {})
        self._headers = {target: tuple(lines) for target, lines in (headers or {}).items()}
        """Headers by target (an application's auth_header): from the configuration, never
        from the database."""
        longest = 60.0  # the longest timeout_ms the configuration allows in practice
        self.on_smpp_job: Callable[[], None] | None = None
        """Told when an SMPP job (receipt, MO to an ESME) is kept: the SMPP service sends
        those; the HTTP engine never claims them."""
        self._engine = HttpDelivery[StoredOutboxJob](
            OutboxView(store, HTTP_KINDS),
            self,
            name="outbox",
            alert_after_s=settings.alert_after_s,
            retry_initial_s=settings.retry_initial_ms / 1000,
            retry_max_s=settings.retry_max_ms / 1000,
            max_in_flight=settings.max_in_flight,
            poll_interval_s=poll_interval_s,
            requeue_on_start=requeue_on_start,
            lease_s=longest + 30.0,
            on_internal_error=on_internal_error,
            clock=clock,
            rng=rng,
        )

    async def start(self) -> None:
        await self._engine.start()

    async def stop(self, *, grace_s: float = 2.0) -> None:
        await self._engine.stop(grace_s=grace_s)

    async def submit(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        """Keep the job (its MO's duplicate key in the same transaction); wake the engine."""
        job_id = await self.store.add(job, duplicate)
        self.metrics.kept.labels(job.kind.value, job.target).inc()
        if job.kind in SMPP_KINDS:
            if self.on_smpp_job is not None:
                self.on_smpp_job()
        else:
            self._engine.wake()
        return job_id

    def wake(self) -> None:
        self._engine.wake()

    async def refresh_gauges(self) -> None:
        """smsc_outbox_jobs from the store (called with the other gauges, not per job)."""
        for (kind, state), count in (await self.store.counts()).items():
            self.metrics.jobs.labels(kind, state).set(count)

    # -- DeliveryKind ---------------------------------------------------------------------------

    def claim_of(self, job: StoredOutboxJob) -> Claim:
        return Claim(job.id, job.attempts, job.job.created_at, job.job.target)

    async def request_of(self, job: StoredOutboxJob) -> HttpRequest:
        new = job.job
        rows: Sequence[StoredOutboxJob] = (job,)
        if new.group_key is not None and new.group_size > 1:
            rows = _carried_by(job, await self.store.group(new.group_key))
        composer = self._composers.get(new.kind)
        try:
            body = new.body if composer is None else composer(rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise RenderError(f"{type(exc).__name__}: {exc}") from exc
        return HttpRequest(
            new.url,
            body,
            new.content_type,
            self._headers.get(new.target, ()),
            new.timeout_ms / 1000,
            new.verify_tls,
            new.target,
        )

    def attempted(self, job: StoredOutboxJob, attempt: Attempted) -> None:
        kind, target = job.job.kind.value, job.job.target
        self.metrics.attempts.labels(kind, target, attempt.outcome).inc()
        if attempt.ok:
            self.metrics.delivered.labels(kind, target).inc()
            log.info("outbox: %s job %d delivered to %s", kind, job.id, target)
        else:
            log.warning(
                "outbox: %s job %d to %s failed (attempt %d): %s",
                kind,
                job.id,
                target,
                job.attempts + 1,
                attempt.error,
            )

    async def overdue(self, job_id: int, now: datetime) -> None:
        self.metrics.alerts.inc()
        stored = await self.store.get(job_id)
        if stored is None:
            return
        log.error(
            "outbox: ALERT %s job %d to %s undelivered after %.0f s (%d attempts, last: %s)",
            stored.job.kind.value,
            job_id,
            stored.job.target,
            (now - stored.job.created_at).total_seconds(),
            stored.attempts,
            stored.last_error or stored.last_http_status,
        )

    def in_flight_count(self, count: int) -> None:
        self.metrics.in_flight.set(count)

    def oldest_pending(self, age_s: float) -> None:
        self.metrics.oldest_pending.set(age_s)


def _carried_by(lead: StoredOutboxJob, group: Sequence[StoredOutboxJob]) -> list[StoredOutboxJob]:
    """The rows one POST of a group carries: the lead and the segments merged into it, i.e. the
    merged rows (shown held) after it up to the next lead of the same group (segments that came
    after the reassembly time went with what had come are sent under a lead of their own)."""
    carried = [lead]
    for row in sorted(group, key=lambda r: r.id):
        if row.id <= lead.id:
            continue
        if row.state is not OutboxState.HELD:
            break
        carried.append(row)
    return carried
