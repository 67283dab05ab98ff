"""The one HTTP delivery engine: persisted jobs POSTed until a 2xx, for AML reports to PSAPs,
MO SMS to applications and delivery reports to API callbacks.

A job is a row some store keeps (durable before anyone is told it was accepted). The engine
claims due rows with a lease (a claimer that dies leaves them to the next after the lease),
POSTs them concurrently (bounded) through one shared aiohttp session, and records each
attempt: a 2xx is delivery; anything else (HTTP error, refused connection, timeout, TLS
failure, a body that cannot be rendered) is retried after an exponential backoff with jitter,
until the job is delivered or its store expires it. Delivery is at least once: every POST of a
job carries the same `Idempotency-Key` (the row id), so a receiver can drop a repeat after a
lost answer. A monitor keeps the oldest-pending age current and raises one alert per job still
undelivered after `alert_after_s`.

What differs between kinds (where the rows are, how a body is made, metrics and log lines)
is the `DeliveryKind` given to the engine; the queue of rows is a `DeliveryQueue`
(smsc.service.ports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

import aiohttp

from smsc.errors import SmscError
from smsc.service.ports import DeliveryQueue
from smsc.store.errors import StoreError

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "Claim",
    "DeliveryKind",
    "HttpDelivery",
    "HttpRequest",
    "RenderError",
    "Unreachable",
    "parse_header_line",
]

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""Sent with every POST: the job's id, the same on every attempt."""

_ERROR_BODY_CHARS = 200
_USER_AGENT = "smsc/1"

J = TypeVar("J")
J_contra = TypeVar("J_contra", contravariant=True)


class Unreachable(SmscError):  # noqa: N818 (an outcome the log and metrics name)
    """A POST got no answer: refused, reset, timed out, or its TLS failed."""

    def __init__(self, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        """Metric label: connect_error | timeout | tls_error."""


class RenderError(SmscError):
    """A job's body could not be made (kept, and retried like a failed POST)."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One POST of a job."""

    url: str
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 2.0
    verify_tls: bool = True
    label: str = ""
    """Who it goes to, for metrics and the log (a route, an application)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What the engine needs to know of a claimed job."""

    id: int
    attempts: int
    """Attempts recorded before this claim."""
    received_at: datetime
    label: str
    """Who it goes to (as HttpRequest.label), also when its body cannot be made."""


@dataclass(frozen=True, slots=True)
class Attempted:
    """The outcome of one POST, as the kind's metrics and log see it."""

    claim: Claim
    at: datetime
    outcome: str
    """delivered | http_error | connect_error | timeout | tls_error | render_error"""
    http_status: int | None
    error: str | None
    next_attempt_at: datetime | None

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"


class DeliveryKind(Protocol[J_contra]):
    """What one kind of job adds to the engine: its request, its metrics and log lines."""

    def claim_of(self, job: J_contra) -> Claim:
        """The engine's view of a claimed job."""

    async def request_of(self, job: J_contra) -> HttpRequest:
        """The POST of the job (RenderError when its body cannot be made)."""

    def attempted(self, job: J_contra, attempt: Attempted) -> None:
        """Count and log one attempt."""

    async def overdue(self, job_id: int, now: datetime) -> None:
        """One alert for a job still undelivered after the alert time."""

    def in_flight_count(self, count: int) -> None:
        """POSTs under way now."""

    def oldest_pending(self, age_s: float) -> None:
        """Seconds since the oldest undelivered job was received (0 when none)."""


def parse_header_line(line: str) -> tuple[str, str]:
    """("Authorization", "Bearer x") from "Authorization: Bearer x"; ValueError if malformed."""
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name or not value or any(c.isspace() for c in name):
        raise ValueError(f"not a 'Name: value' header line: {line!r}")
    return name, value


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes


class HttpDelivery(Generic[J]):
    """The delivery worker of one queue: start()/stop() run its loops, wake() looks now."""

    def __init__(
        self,
        queue: DeliveryQueue[J],
        kind: DeliveryKind[J],
        *,
        name: str,
        alert_after_s: float = 60.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 30.0,
        max_in_flight: int = 32,
        poll_interval_s: float = 1.0,
        monitor_interval_s: float | None = None,
        requeue_on_start: bool = True,
        lease_s: float = 60.0,
        on_internal_error: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if retry_initial_s <= 0 or retry_max_s < retry_initial_s:
            raise ValueError("need 0 < retry_initial_s <= retry_max_s")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._queue = queue
        self._kind = kind
        self.name = name
        """Prefix of log lines and task names ("aml", "outbox")."""
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
        self._lease_s = lease_s
        """A claim outlives the slowest POST; then a crashed claimer's jobs are claimed again."""
        self._on_internal_error = on_internal_error or (lambda: None)
        """Counts what a loop's top-level handler caught (smsc_internal_errors_total)."""
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()
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
            requeued = await self._queue.requeue_delivering()
            if requeued:
                log.warning("%s: %d job(s) left in delivering requeued", self.name, requeued)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_in_flight),
            headers={"User-Agent": _USER_AGENT},
        )
        self._running = True
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"{self.name}-delivery"),
            asyncio.create_task(self._monitor(), name=f"{self.name}-monitor"),
        ]

    async def stop(self, *, grace_s: float = 2.0) -> None:
        """Stop claiming; give in-flight POSTs `grace_s` to finish; cancel the rest.

        A cancelled POST leaves its job in delivering: the next start requeues it.
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

    def wake(self) -> None:
        """Look for due jobs now (one was just added)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """POSTs under way."""
        return len(self._in_flight)

    # -- the loops ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Claim due jobs while there is room in flight; sleep until woken or polled."""
        failures = 0
        while self._running:
            try:
                more = await self._claim_and_start()
                failures = 0
            except StoreError as exc:
                failures += 1
                delay = self._backoff(failures)
                log.error("%s: cannot claim jobs (%s); again in %.1f s", self.name, exc, delay)
                await self._sleep_or_wake(delay)
                continue
            except Exception:  # the claim loop's one top-level handler: it must not die
                failures += 1
                self._on_internal_error()
                delay = self._backoff(failures)
                log.exception("%s: claim pass failed; again in %.1f s", self.name, delay)
                await self._sleep_or_wake(delay)
                continue
            if not more:
                await self._sleep_or_wake(self._poll_interval_s)

    async def _claim_and_start(self) -> bool:
        """Claim what fits in flight and start its POSTs; True when more may be due now."""
        self._wake.clear()
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return False  # a POST that ends wakes the loop
        claimed = await self._queue.claim_due(self._clock(), room, lease_s=self._lease_s)
        for job in claimed:
            claim = self._kind.claim_of(job)
            task = asyncio.create_task(self._deliver(job, claim), name=f"{self.name}-{claim.id}")
            self._in_flight[claim.id] = task
        if claimed:
            self._kind.in_flight_count(len(self._in_flight))
        return len(claimed) == room  # perhaps more are due; the room is gone anyway if they were

    async def _sleep_or_wake(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _monitor(self) -> None:
        """Keep the oldest-pending age current; alert once per overdue job."""
        while self._running:
            try:
                await self._check_overdue()
            except StoreError as exc:
                log.error("%s: cannot check for overdue jobs: %s", self.name, exc)
            except Exception:  # the monitor's one top-level handler: it must not die
                self._on_internal_error()
                log.exception("%s: overdue check failed", self.name)
            await asyncio.sleep(self._monitor_interval_s)

    async def _check_overdue(self) -> None:
        now = self._clock()
        age = await self._queue.oldest_pending_age(now)
        self._kind.oldest_pending(max(age or 0.0, 0.0))
        if age is None or age <= self._alert_after_s:
            self._alerted.clear()
            return
        limit = 1000
        cutoff = now - timedelta(seconds=self._alert_after_s)
        overdue = await self._queue.overdue(cutoff, limit)
        for job_id in overdue:
            if job_id in self._alerted:
                continue
            self._alerted.add(job_id)
            await self._kind.overdue(job_id, now)
        if len(overdue) < limit:
            self._alerted.intersection_update(overdue)

    # -- one delivery ---------------------------------------------------------------------------

    async def _deliver(self, job: J, claim: Claim) -> None:
        """POST one claimed job and record the outcome; never raises.

        An unexpected failure (a bug) is logged and counted; the job stays in delivering until
        its lease runs out, then it is claimed again.
        """
        try:
            await self._attempt(job, claim)
        except Exception:  # the one top-level handler of a job's delivery task
            self._on_internal_error()
            log.exception("%s: delivery of job %d failed", self.name, claim.id)
        finally:
            self._in_flight.pop(claim.id, None)
            self._kind.in_flight_count(len(self._in_flight))
            self._wake.set()

    async def _attempt(self, job: J, claim: Claim) -> None:
        """Make the request, POST it, count and record the outcome."""
        status: int | None = None
        error: str | None = None
        try:
            request = await self._kind.request_of(job)
        except RenderError as exc:
            log.error("%s: cannot make the body of job %d: %s", self.name, claim.id, exc)
            outcome, error = "render_error", f"render: {exc}"
        except StoreError as exc:  # the rows a body is made of could not be read
            log.error("%s: cannot make the body of job %d: %s", self.name, claim.id, exc)
            outcome, error = "render_error", f"store: {exc}"
        else:
            try:
                answer = await self._post(request, claim.id)
            except Unreachable as exc:
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
        next_at = None if ok else at + timedelta(seconds=self._backoff(claim.attempts + 1))
        self._kind.attempted(job, Attempted(claim, at, outcome, status, error, next_at))
        await self._record(claim.id, at, ok, status=status, error=error, next_at=next_at)
        if next_at is not None:
            self._wake_at(next_at)

    async def _post(self, request: HttpRequest, job_id: int) -> _Answer:
        """POST and read the answer; library errors become Unreachable."""
        session = self._session
        if session is None:
            raise Unreachable("delivery stopped", outcome="connect_error")
        headers = {"Content-Type": request.content_type, IDEMPOTENCY_KEY_HEADER: str(job_id)}
        headers.update(request.headers)
        try:
            async with session.post(
                request.url,
                data=request.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=request.timeout_s),
                ssl=request.verify_tls,
                allow_redirects=False,
            ) as response:
                return _Answer(response.status, await response.read())
        except TimeoutError as exc:
            raise Unreachable(
                f"timeout after {request.timeout_s * 1000:.0f} ms", outcome="timeout"
            ) from exc
        except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
            raise Unreachable(f"TLS: {exc}", outcome="tls_error") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}", outcome="connect_error") from exc

    async def _record(
        self,
        job_id: int,
        at: datetime,
        ok: bool,
        *,
        status: int | None,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        """Record the attempt, retrying while the store is unavailable (and we run).

        If it never commits, the job stays in delivering: its lease expires (or the next
        start requeues it) and it is sent again.
        """
        failures = 0
        while True:
            try:
                await self._queue.record_attempt(
                    job_id, at, ok, http_status=status, error=error, next_attempt_at=next_at
                )
                return
            except StoreError as exc:
                failures += 1
                if not self._running:
                    log.error("%s: attempt of job %d not recorded: %s", self.name, job_id, exc)
                    return
                delay = min(self._backoff(failures), 5.0)
                log.error(
                    "%s: cannot record attempt of job %d (%s); again in %.1f s",
                    self.name,
                    job_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    # -- timing ---------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Seconds before retry number `attempt` (1 = after the first failure), jittered."""
        ceiling = min(self._retry_max_s, self._retry_initial_s * 2.0 ** min(attempt - 1, 40))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _wake_at(self, moment: datetime) -> None:
        """Have the loop look for due jobs at `moment` (a retry time)."""
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
