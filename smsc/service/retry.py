"""When to try an MT message again, from the outcome of the last attempt (pure; time passed in).

TS 23.040 §3.2.5 / TS 24.011 §8.2.5.4: RP-ERROR 22 (memory capacity exceeded) parks the
recipient until it signals memory available (RP-SMMA) or registers again; temporary RP causes,
SIP 408/480/503-like failures and a missing RP answer (TR1M) back off exponentially with jitter
within the validity period; permanent causes fail at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from smsc.service.model import MessageState
from smsc.sms.constants import RpCause

# TS 24.011 Table 8.4 and Annex E: causes that will not heal by retrying. The
# protocol errors 95/96/97/99/111 say the UE cannot parse what we send: the next try is the
# same PDU. 81 (bad reference) and 98 (wrong state) concern one transfer: they are temporary.
PERMANENT_RP_CAUSES = frozenset(
    {
        RpCause.UNASSIGNED_NUMBER,
        RpCause.OPERATOR_DETERMINED_BARRING,
        RpCause.CALL_BARRED,
        RpCause.SHORT_MESSAGE_TRANSFER_REJECTED,
        RpCause.UNIDENTIFIED_SUBSCRIBER,
        RpCause.FACILITY_REJECTED,
        RpCause.UNKNOWN_SUBSCRIBER,
        RpCause.REQUESTED_FACILITY_NOT_SUBSCRIBED,
        RpCause.REQUESTED_FACILITY_NOT_IMPLEMENTED,
        RpCause.SEMANTICALLY_INCORRECT_MESSAGE,
        RpCause.INVALID_MANDATORY_INFORMATION,
        RpCause.MESSAGE_TYPE_NON_EXISTENT,
        RpCause.INFORMATION_ELEMENT_NON_EXISTENT,
        RpCause.PROTOCOL_ERROR_UNSPECIFIED,
        RpCause.INTERWORKING_UNSPECIFIED,
    }
)
PARKING_RP_CAUSES = frozenset({RpCause.MEMORY_CAPACITY_EXCEEDED})
"""TS 23.040 §10.1 (MNRF): the recipient takes nothing until RP-SMMA or a new registration."""
# RFC 3261 §21: final answers that mean the recipient will never take it (408, 480, 503 and
# every other failure are temporary).
PERMANENT_SIP_STATUSES = frozenset({400, 403, 404, 410, 413, 415, 416, 484, 488, 603, 604})


class Verdict(StrEnum):
    """What becomes of a message after a failed attempt."""

    RETRY = "retry"
    PARK = "park"
    FAIL = "fail"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The message's next state and, when queued again, when it is due."""

    verdict: Verdict
    state: MessageState
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter between attempts, bounded by the message's validity."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    factor: float = 2.0
    jitter: float = 0.2
    """Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]."""
    uniform: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    """A uniform number in [0, 1); replaced by a fixed one in tests."""

    @classmethod
    def of(cls, initial_s: float, max_s: float, factor: float, jitter: float) -> RetryPolicy:
        """The policy of the `delivery:` settings."""
        return cls(timedelta(seconds=initial_s), timedelta(seconds=max_s), factor, jitter)

    def base_delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt, before jitter."""
        exponent = min(max(attempts - 1, 0), 64)
        seconds = self.first_delay.total_seconds() * self.factor**exponent
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))

    def delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt, jittered."""
        scale = 1.0 + self.jitter * (2.0 * self.uniform() - 1.0)
        return self.base_delay(attempts) * scale

    def decide(
        self,
        attempts: int,
        now: datetime,
        expires_at: datetime,
        *,
        rp_cause: int | None = None,
        sip_status: int | None = None,
    ) -> RetryDecision:
        """After the `attempts`-th failed attempt (rp_cause and sip_status None: TR1M ran out)."""
        if rp_cause in PERMANENT_RP_CAUSES or sip_status in PERMANENT_SIP_STATUSES:
            return RetryDecision(Verdict.FAIL, MessageState.FAILED)
        if expires_at <= now:
            return RetryDecision(Verdict.EXPIRE, MessageState.EXPIRED)
        if rp_cause in PARKING_RP_CAUSES:
            return RetryDecision(Verdict.PARK, MessageState.QUEUED, expires_at)
        retry_at = now + self.delay(attempts)
        if retry_at >= expires_at:
            return RetryDecision(Verdict.EXPIRE, MessageState.EXPIRED)
        return RetryDecision(Verdict.RETRY, MessageState.QUEUED, retry_at)

    def defer(self, attempts: int, now: datetime, expires_at: datetime) -> RetryDecision:
        """No route to the recipient (not registered): look again later, at the latest at expiry.

        The message is never failed for want of a route: it waits (a registration releases it
        at once) and expires when its validity ends.
        """
        if expires_at <= now:
            return RetryDecision(Verdict.EXPIRE, MessageState.EXPIRED)
        retry_at = min(now + self.delay(attempts), expires_at)
        return RetryDecision(Verdict.RETRY, MessageState.QUEUED, retry_at)

    def after_failure(
        self,
        attempts: int,
        now: datetime,
        expires_at: datetime,
        *,
        rp_cause: int | None = None,
        sip_status: int | None = None,
    ) -> tuple[MessageState, datetime | None]:
        """`decide` as (state, retry_at)."""
        decision = self.decide(attempts, now, expires_at, rp_cause=rp_cause, sip_status=sip_status)
        return decision.state, decision.retry_at
