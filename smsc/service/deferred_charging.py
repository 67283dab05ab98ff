"""Deferred charging: CCRs no OCS answered are sent again until one does (TS 32.299 §6.1.4).

With ``charging.failure_handling: continue`` the charging gate delivers an SMS no OCS charged
and keeps its CCR (T flag set, same Session-Id and End-to-End id) in the store. The replayer
claims due CCRs every ``charging.replay_interval_s``, and at once when an OCS peer opens
(``wake``), and sends each unchanged (``Charger.charge_again``). A peer opening also ends every
back-off: that round first makes each pending CCR due (not those another sender holds, nor
final ones), so all are sent again within that round, in batches, not up to an hour later:

- the OCS debits (or says free of charge): ``charged``;
- the OCS refuses: ``rejected`` (after delivery: a WARNING, counted);
- still no answer: pending again, due after ``replay_interval_s`` doubled per replay (at most
  an hour); past ``charging.replay_max_age_h`` after the first attempt: ``failed``, an ERROR.

Each final state adds a charging record (``deferred-charged``, ``deferred-rejected``,
``deferred-failed``) to the submission in the same transaction. Claims take a lease, so
several processes or instances never send one CCR at once and a dead sender's CCRs come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from charging.client import ChargeResult, Unreachable
from charging.errors import ChargingError
from charging.results import DeliverFree, Proceed, Reject
from smsc.api.metrics import Metrics
from smsc.redact import subscriber
from smsc.service.model import (
    ChargingRecord,
    DeferredChargeState,
    StoredDeferredCharge,
)
from smsc.service.ports import Charger, DeferredChargeStore

__all__ = [
    "CONCURRENCY",
    "LEASE_S",
    "MAX_BACKOFF_S",
    "DeferredChargeReplayer",
    "backoff_s",
    "lease_s_for",
]

log = logging.getLogger("smsc.charging")

MAX_BACKOFF_S = 3600.0
"""The longest wait between two replays of one CCR."""

LEASE_S = 300.0
"""The shortest time a claim keeps its CCRs from other claimers (see `lease_s_for`)."""

CONCURRENCY = 16
"""CCRs of one batch in flight at once."""

STOP_TIMEOUT_S = 10.0
"""How long `stop` lets a round in progress finish before cancelling it."""


def backoff_s(interval_s: float, attempts: int, cap_s: float = MAX_BACKOFF_S) -> float:
    """The wait after the `attempts`-th failed replay: `interval_s` doubled per replay, capped."""
    return min(interval_s * 2.0 ** min(max(attempts - 1, 0), 32), cap_s)


def lease_s_for(batch: int, timeout_s: float, concurrency: int = CONCURRENCY) -> float:
    """A lease outlasting a whole batch (each CCR at most twice Tx); at least LEASE_S."""
    rounds = -(-batch // concurrency)
    return max(LEASE_S, 2 * timeout_s * rounds + 60.0)


def _now() -> datetime:
    return datetime.now(UTC)


class DeferredChargeReplayer:
    """Sends deferred CCRs again, every interval and when woken, until each is settled."""

    def __init__(
        self,
        store: DeferredChargeStore,
        charger: Charger,
        metrics: Metrics,
        *,
        interval_s: float = 30.0,
        batch: int = 100,
        max_age_s: float = 72 * 3600.0,
        lease_s: float = LEASE_S,
        concurrency: int = CONCURRENCY,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.charger = charger
        self.metrics = metrics
        self.interval_s = interval_s
        self.batch = batch
        self.max_age = timedelta(seconds=max_age_s)
        self.lease_s = lease_s
        self._clock = clock
        self._limit = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._peer_opened = False
        """Set by `wake`: the next round makes every pending CCR due first."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Run the replay loop in a task of the running loop."""
        self._loop = loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = loop.create_task(self.run(), name="deferred-charging")

    def wake(self) -> None:
        """An OCS peer opened: replay now, every pending CCR (back-off or not); callable from
        any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._peer_open()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._peer_open()
        else:
            loop.call_soon_threadsafe(self._peer_open)

    def _peer_open(self) -> None:
        """On the loop (once started): the next round ends the back-offs, and starts now."""
        self._peer_opened = True
        self._wakeup.set()

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Let a round in progress finish (cancelled after `timeout_s`), then end the loop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout_s)

    @property
    def stopping(self) -> bool:
        """stop() was called."""
        return self._stopping

    async def run(self) -> None:
        """Replay rounds until stopped, each after an interval or a wake (the first too)."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.interval_s)
            if self.stopping:  # set while we waited
                break
            self._wakeup.clear()
            await self.replay_round()

    async def replay_round(self) -> int:
        """Claim and send due CCRs until a batch is not full; how many. Never raises.

        After a `wake` (an OCS peer opened), every pending CCR is made due first."""
        claimed = 0
        try:
            if self._peer_opened:
                self._peer_opened = False
                await self._end_backoffs()
            while True:
                charges = await self.store.claim_due_deferred_charges(
                    self._clock(), self.batch, self.lease_s
                )
                claimed += len(charges)
                results = await asyncio.gather(
                    *(self._replay(charge) for charge in charges), return_exceptions=True
                )
                for charge, result in zip(charges, results, strict=True):
                    if isinstance(result, BaseException):
                        self._internal_error(
                            result, f"replaying CCR {charge.id}", "when its claim's lease ends"
                        )
                if len(charges) < self.batch or self._stopping:
                    break
            await self.refresh_gauges()
        except Exception as exc:  # the loop's top-level handler: the next round tries again
            self._internal_error(exc, "a replay round", f"in {self.interval_s:.0f} s")
        return claimed

    async def _end_backoffs(self) -> None:
        """Every pending CCR due now; if the store fails, the next round tries again."""
        try:
            made = await self.store.make_deferred_charges_due(self._clock())
        except BaseException:
            self._peer_opened = True
            raise
        if made:
            log.info(
                "deferred charging: an OCS peer opened: %d CCR%s waiting out a back-off due now",
                made,
                "" if made == 1 else "s",
            )

    async def refresh_gauges(self) -> None:
        """Set `smsc_charging_deferred{state}` from the store."""
        counts = await self.store.deferred_charge_counts()
        for state, count in counts.by_state.items():
            self.metrics.charging_deferred.labels(state.value).set(count)

    def _internal_error(self, exc: BaseException, what: str, again: str) -> None:
        """Log and count an unexpected failure; `again` says when it is tried again."""
        self.metrics.internal_errors.labels("charging-replay").inc()
        log.error("deferred charging: %s failed; tried again %s", what, again, exc_info=exc)

    async def _replay(self, charge: StoredDeferredCharge) -> None:
        """Send one claimed CCR and keep what came of it."""
        async with self._limit:
            started = time.monotonic()
            try:
                result = await self.charger.charge_again(charge.charge.ccr)
            except ChargingError as exc:
                latency_s = time.monotonic() - started
                await self._retry_or_fail(charge, None, f"charging error: {exc}", latency_s)
                return
            latency_s = time.monotonic() - started
        outcome = result.outcome
        if isinstance(outcome, Proceed | DeliverFree):
            await self._settle(charge, DeferredChargeState.CHARGED, result, None, latency_s)
        elif isinstance(outcome, Reject):
            if await self._settle(
                charge, DeferredChargeState.REJECTED, result, "rejected", latency_s
            ):
                log.warning(
                    "deferred charging: the OCS refused the CCR (Session-Id %s) of an SMS from "
                    "%s delivered %s ago: result %s",
                    charge.charge.session_id,
                    subscriber("+" + charge.charge.originator),
                    _age(self._clock() - charge.charge.created_at),
                    result.result_code,
                )
        else:
            assert isinstance(outcome, Unreachable)
            await self._retry_or_fail(charge, result, outcome.reason, latency_s)

    async def _retry_or_fail(
        self,
        charge: StoredDeferredCharge,
        result: ChargeResult | None,
        reason: str,
        latency_s: float,
    ) -> None:
        """No answer again: pending until the next replay, or failed past the maximum age."""
        now = self._clock()
        deadline = charge.charge.created_at + self.max_age
        attempts = charge.attempts + 1
        if now >= deadline:
            if await self._settle(charge, DeferredChargeState.FAILED, result, reason, latency_s):
                log.error(
                    "deferred charging: gave up the CCR (Session-Id %s) of an SMS from %s "
                    "after %d replays in %s without an answer (last: %s)",
                    charge.charge.session_id,
                    subscriber("+" + charge.charge.originator),
                    attempts,
                    _age(now - charge.charge.created_at),
                    reason,
                )
            return
        wait = timedelta(seconds=backoff_s(self.interval_s, attempts))
        kept = await self.store.record_deferred_outcome(
            charge.id,
            at=now,
            state=DeferredChargeState.PENDING,
            result_code=None if result is None else result.result_code,
            reason=reason,
            next_attempt_at=min(now + wait, deadline),
        )
        if kept:
            self.metrics.charging_deferred_replayed.labels("retry").inc()

    async def _settle(
        self,
        charge: StoredDeferredCharge,
        state: DeferredChargeState,
        result: ChargeResult | None,
        reason: str | None,
        latency_s: float,
    ) -> bool:
        """Keep a final state with its charging record; whether it was kept (not taken over)."""
        now = self._clock()
        record = ChargingRecord(
            submission_id=charge.charge.submission_id,
            at=now,
            originator=charge.charge.originator,
            session_id=charge.charge.session_id,
            outcome=f"deferred-{state.value}",
            result_code=None if result is None else result.result_code,
            units=1,
            granted_units=None if result is None else result.granted_units,
            peer=None if result is None else result.peer,
            retransmitted=True,
            latency_ms=(latency_s if result is None else result.latency_s) * 1000,
        )
        kept = await self.store.record_deferred_outcome(
            charge.id,
            at=now,
            state=state,
            result_code=record.result_code,
            reason=reason,
            record=record,
        )
        if kept:
            self.metrics.charging_deferred_replayed.labels(state.value).inc()
        else:
            log.info(
                "deferred charging: the CCR (Session-Id %s) was settled by another sender",
                charge.charge.session_id,
            )
        return kept


def _age(delta: timedelta) -> str:
    """A duration for the log: '42 s', '17 min', '5.2 h'."""
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
