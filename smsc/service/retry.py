"""When to try an MT message again, from the outcome of the last attempt (pure; time passed in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from smsc.service.model import MessageState
from smsc.sms.constants import RpCause

# TS 24.011 Table 8.4: causes a UE or network may send that will not heal by retrying.
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
    }
)
# RFC 3261 §21: final answers that mean the recipient will never take it.
PERMANENT_SIP_STATUSES = frozenset({400, 403, 404, 410, 413, 415, 416, 484, 488, 603, 604})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff between attempts, bounded by the message's validity."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    factor: float = 2.0

    def delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt."""
        seconds = self.first_delay.total_seconds() * self.factor ** max(attempts - 1, 0)
        return min(timedelta(seconds=seconds), self.max_delay)

    def after_failure(
        self,
        attempts: int,
        now: datetime,
        expires_at: datetime,
        *,
        rp_cause: int | None = None,
        sip_status: int | None = None,
    ) -> tuple[MessageState, datetime | None]:
        """The state after a failed attempt and, when queued again, when to retry."""
        if rp_cause in PERMANENT_RP_CAUSES or sip_status in PERMANENT_SIP_STATUSES:
            return MessageState.FAILED, None
        retry_at = now + self.delay(attempts)
        if retry_at >= expires_at:
            return MessageState.EXPIRED, None
        return MessageState.QUEUED, retry_at
