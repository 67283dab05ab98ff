"""In-memory twin of the SQL message store: same behaviour, no durability; for service tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from smsc.service.model import (
    Attempt,
    ChargingRecord,
    DeferredCharge,
    DeferredChargeCounts,
    DeferredChargeState,
    MessageOrigin,
    MessageState,
    NewMessage,
    RecentMo,
    StoredDeferredCharge,
    StoredMessage,
)
from smsc.store.errors import DuplicateMessageError, MessageNotFoundError, StoreClosedError
from smsc.store.tables import (
    clean_attempt,
    clean_charging_record,
    clean_deferred_charge,
    clean_message,
    clean_text,
    initial_state,
    to_utc,
)

__all__ = ["MemoryMessageStore"]

_ACTIVE = (MessageState.QUEUED, MessageState.DELIVERING)


@dataclass(slots=True)
class _Record:
    """The mutable state of one stored message."""

    id: int
    message: NewMessage
    state: MessageState = MessageState.QUEUED
    attempts: int = 0
    last_sip_status: int | None = None
    last_rp_cause: int | None = None
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None
    delivered_at: datetime | None = None
    history: list[Attempt] = field(default_factory=list)

    def snapshot(self) -> StoredMessage:
        """An immutable copy."""
        return StoredMessage(
            id=self.id,
            message=self.message,
            state=self.state,
            attempts=self.attempts,
            last_sip_status=self.last_sip_status,
            last_rp_cause=self.last_rp_cause,
            next_attempt_at=self.next_attempt_at,
            updated_at=self.updated_at,
            delivered_at=self.delivered_at,
            history=tuple(self.history),
        )

    def is_due(self, now: datetime) -> bool:
        """Queued and its retry time reached (or none set)."""
        return self.state is MessageState.QUEUED and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )


class MemoryMessageStore:
    """MessageStore kept in a dict, with the SQL store's rules (in-order claims, UTC times)."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._records: dict[int, _Record] = {}
        self._ids = itertools.count(1)
        self._charging: dict[str, list[ChargingRecord]] = {}
        self._deferred: dict[int, StoredDeferredCharge] = {}
        self._deferred_ids = itertools.count(1)
        self._duplicate_until: dict[str, datetime] = {}
        self._open = False

    async def start(self) -> None:
        """Nothing to connect to."""
        self._open = True

    async def close(self) -> None:
        """Later calls raise StoreClosedError; the data stays for inspection."""
        self._open = False

    async def add(self, message: NewMessage) -> int:
        """Store a message; returns its id."""
        return (await self.add_many([message]))[0]

    async def add_many(self, messages: Sequence[NewMessage]) -> list[int]:
        """Store several messages at once; ids in the same order.

        As the SQL store: a message whose duplicate key a stored MO holds within its window
        raises DuplicateMessageError, and the others are stored."""
        self._require_open()
        for message in messages:
            if message.charging is not None:  # the OCS was asked: kept for duplicates too
                charged = clean_charging_record(message.charging)
                self._charging.setdefault(charged.submission_id, []).append(charged)
        normalised = [clean_message(replace(message, charging=None)) for message in messages]
        now = to_utc(self._clock())
        ids: list[int] = []
        duplicate: DuplicateMessageError | None = None
        for message in normalised:
            if message.duplicate is not None:
                key = message.duplicate.key
                until = self._duplicate_until.get(key)
                if until is not None and until > now:
                    duplicate = duplicate or DuplicateMessageError(key)
                    continue
                self._duplicate_until[key] = to_utc(message.duplicate.until)
            record = _Record(
                id=next(self._ids),
                message=message,
                state=initial_state(message),
                next_attempt_at=message.deliver_at,
                updated_at=now,
            )
            self._records[record.id] = record
            ids.append(record.id)
        if duplicate is not None:
            raise duplicate
        return ids

    async def get(self, message_id: int) -> StoredMessage | None:
        """One message with its attempts."""
        self._require_open()
        record = self._records.get(message_id)
        return None if record is None else record.snapshot()

    async def waiting_for(self, recipient: str, limit: int = 100) -> list[StoredMessage]:
        """The recipient's scheduled, queued and delivering messages, oldest first."""
        self._require_open()
        active = (MessageState.SCHEDULED, MessageState.QUEUED, MessageState.DELIVERING)
        found = [
            r
            for r in self._records.values()
            if r.message.recipient == recipient and r.state in active
        ]
        found.sort(key=lambda r: r.id)
        return [record.snapshot() for record in found[:limit]]

    async def get_submission(self, submission_id: str) -> list[StoredMessage]:
        """Every segment of one submission, in segment order."""
        self._require_open()
        found = [r for r in self._records.values() if r.message.submission_id == submission_id]
        found.sort(key=lambda r: (r.message.segment, r.id))
        return [record.snapshot() for record in found]

    async def due_recipients(self, now: datetime, limit: int) -> list[str]:
        """Recipients whose oldest active message is queued and due: priority heads first,
        each group oldest head first."""
        self._require_open()
        now = to_utc(now)
        due = sorted(
            (r for r in self._heads().values() if r.is_due(now)),
            key=lambda r: (r.message.priority <= 0, r.id),
        )
        return [r.message.recipient for r in due[: max(limit, 0)]]

    async def claim_next(self, recipient: str, now: datetime) -> StoredMessage | None:
        """Move the recipient's oldest active message to delivering if it is queued and due."""
        self._require_open()
        now = to_utc(now)
        head = self._heads().get(recipient)
        if head is None or not head.is_due(now):
            return None
        claimed = head.snapshot()
        head.state = MessageState.DELIVERING
        head.attempts += 1
        head.updated_at = now
        return replace(claimed, state=head.state, attempts=head.attempts, updated_at=now)

    async def claim_heads(self, recipients: Sequence[str], now: datetime) -> list[StoredMessage]:
        """`claim_next` for several recipients; oldest first."""
        claimed = [await self.claim_next(recipient, now) for recipient in dict.fromkeys(recipients)]
        heads = sorted((m for m in claimed if m is not None), key=lambda m: m.id)
        queued = {
            r.message.recipient for r in self._records.values() if r.state is MessageState.QUEUED
        }
        return [replace(m, more_queued=m.message.recipient in queued) for m in heads]

    async def release_recipients(self, recipients: Sequence[str], now: datetime) -> int:
        """The recipients' queued messages waiting past `now` become due now; returns how
        many."""
        self._require_open()
        now = to_utc(now)
        wanted = set(recipients)
        count = 0
        for record in self._records.values():
            if (
                record.message.recipient in wanted
                and record.state is MessageState.QUEUED
                and record.next_attempt_at is not None
                and record.next_attempt_at > now
            ):
                record.next_attempt_at = now
                record.updated_at = now
                count += 1
        return count

    async def queue_scheduled(self, now: datetime) -> list[tuple[str, int]]:
        """Scheduled messages due at `now` join their recipients' queues, except those of a
        recipient with a message delivering; (recipient, priority) of each."""
        self._require_open()
        now = to_utc(now)
        busy = {
            r.message.recipient
            for r in self._records.values()
            if r.state is MessageState.DELIVERING
        }
        queued = []
        for record in self._records.values():
            if (
                record.state is MessageState.SCHEDULED
                and record.next_attempt_at is not None
                and record.next_attempt_at <= now
                and record.message.recipient not in busy
            ):
                record.state = MessageState.QUEUED
                record.updated_at = now
                queued.append((record.message.recipient, record.message.priority))
        return queued

    async def cancel_pending(self, submission_id: str, now: datetime) -> int:
        """The submission's scheduled and queued messages become cancelled; how many."""
        self._require_open()
        now = to_utc(now)
        count = 0
        for record in self._records.values():
            if record.message.submission_id == submission_id and record.state in (
                MessageState.SCHEDULED,
                MessageState.QUEUED,
            ):
                record.state = MessageState.CANCELLED
                record.next_attempt_at = None
                record.updated_at = now
                count += 1
        return count

    async def replace_pending(
        self, message_id: int, message: NewMessage, *, reschedule: bool, now: datetime
    ) -> bool:
        """A scheduled or queued message gets the new content (and, with `reschedule`, its
        delivery time and state); False when it is not pending."""
        self._require_open()
        record = self._records.get(message_id)
        if record is None or record.state not in (MessageState.SCHEDULED, MessageState.QUEUED):
            return False
        new = clean_message(message)
        old = record.message
        record.message = replace(
            old,
            submit_tpdu=new.submit_tpdu,
            text=new.text,
            expires_at=new.expires_at,
            status_report=new.status_report,
            source=new.source,
            deliver_at=new.deliver_at if reschedule else old.deliver_at,
        )
        if reschedule:
            record.state = initial_state(new)
            record.next_attempt_at = new.deliver_at
        record.updated_at = to_utc(now)
        return True

    async def record_attempt(
        self,
        message_id: int,
        state: MessageState,
        attempt: Attempt,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record an attempt and the message's new state."""
        self._require_open()
        attempt = clean_attempt(attempt)
        next_at = None if next_attempt_at is None else to_utc(next_attempt_at)
        record = self._records.get(message_id)
        if record is None:
            raise MessageNotFoundError(message_id)
        record.history.append(attempt)
        record.state = state
        record.last_sip_status = attempt.sip_status
        record.last_rp_cause = attempt.rp_cause
        record.next_attempt_at = next_at
        record.updated_at = attempt.at
        if state is MessageState.DELIVERED:
            record.delivered_at = attempt.at

    async def requeue_delivering(self, claimed_before: datetime | None = None) -> int:
        """Messages in delivering (claimed before `claimed_before`, when given) go back to
        queued, due at once; returns how many."""
        self._require_open()
        now = to_utc(self._clock())
        limit = None if claimed_before is None else to_utc(claimed_before)
        count = 0
        for record in self._records.values():
            if record.state is MessageState.DELIVERING and (
                limit is None or record.updated_at is None or record.updated_at < limit
            ):
                record.state = MessageState.QUEUED
                record.next_attempt_at = None
                record.updated_at = now
                count += 1
        return count

    async def recent_mo(self, since: datetime, limit: int) -> list[RecentMo]:
        """MO messages received at or after `since`, newest first, at most `limit`."""
        found = []
        for record in sorted(self._records.values(), key=lambda r: r.id, reverse=True):
            message = record.message
            if message.origin is MessageOrigin.MO and message.received_at >= since:
                found.append(
                    RecentMo(
                        message.originator,
                        message.rp_mr or 0,
                        message.submit_tpdu,
                        message.received_at,
                    )
                )
                if len(found) >= limit:
                    break
        return found

    async def count_by_state(self) -> dict[MessageState, int]:
        """Messages per state; every state present."""
        self._require_open()
        counts = dict.fromkeys(MessageState, 0)
        for record in self._records.values():
            counts[record.state] += 1
        return counts

    async def add_charging_record(self, record: ChargingRecord) -> None:
        """Keep one charging record."""
        self._require_open()
        record = clean_charging_record(record)
        self._charging.setdefault(record.submission_id, []).append(record)

    async def charging_records(self, submission_id: str) -> list[ChargingRecord]:
        """The charging records of one submission, oldest first (ties in insertion order)."""
        self._require_open()
        return sorted(self._charging.get(submission_id, ()), key=lambda record: record.at)

    async def add_deferred_charge(self, charge: DeferredCharge) -> int:
        """Keep a CCR no OCS answered, pending and due at once; its id."""
        self._require_open()
        charge = clean_deferred_charge(charge)
        charge_id = next(self._deferred_ids)
        self._deferred[charge_id] = StoredDeferredCharge(
            charge_id, charge, DeferredChargeState.PENDING
        )
        return charge_id

    async def claim_due_deferred_charges(
        self, now: datetime, limit: int, lease_s: float
    ) -> list[StoredDeferredCharge]:
        """Move up to `limit` due CCRs to sending with a lease, oldest first."""
        self._require_open()
        now = to_utc(now)
        lease_until = now + timedelta(seconds=lease_s)
        claimed: list[StoredDeferredCharge] = []
        for charge in self._deferred.values():  # insertion order is id order
            if len(claimed) >= limit:
                break
            if _deferred_due(charge, now):
                taken = replace(charge, state=DeferredChargeState.SENDING, lease_until=lease_until)
                self._deferred[charge.id] = taken
                claimed.append(taken)
        return claimed

    async def make_deferred_charges_due(self, now: datetime) -> int:
        """Every pending CCR waiting out its back-off due at `now`; how many."""
        self._require_open()
        now = to_utc(now)
        made = 0
        for charge in list(self._deferred.values()):
            if (
                charge.state is DeferredChargeState.PENDING
                and charge.next_attempt_at is not None
                and charge.next_attempt_at > now
            ):
                self._deferred[charge.id] = replace(charge, next_attempt_at=now)
                made += 1
        return made

    async def record_deferred_outcome(
        self,
        charge_id: int,
        *,
        at: datetime,
        state: DeferredChargeState,
        result_code: int | None = None,
        reason: str | None = None,
        next_attempt_at: datetime | None = None,
        record: ChargingRecord | None = None,
    ) -> bool:
        """One replay's outcome, with the final charging record kept alongside."""
        self._require_open()
        if state is DeferredChargeState.SENDING:
            raise ValueError("a replay ends pending or in a final state, not sending")
        at = to_utc(at)
        current = self._deferred.get(charge_id)
        allowed = (
            (DeferredChargeState.PENDING, DeferredChargeState.SENDING)
            if state.is_final
            else (DeferredChargeState.SENDING,)
        )
        if current is None or current.state not in allowed:
            return False
        final = state.is_final
        kept_record = clean_charging_record(record) if record is not None and final else None
        self._deferred[charge_id] = replace(
            current,
            state=state,
            attempts=current.attempts + 1,
            next_attempt_at=None
            if state.is_final or next_attempt_at is None
            else to_utc(next_attempt_at),
            lease_until=None,
            last_result_code=result_code,
            last_reason=None if reason is None else clean_text(reason),
            done_at=at if state.is_final else None,
        )
        if kept_record is not None:
            self._charging.setdefault(kept_record.submission_id, []).append(kept_record)
        return True

    async def deferred_charge_counts(self) -> DeferredChargeCounts:
        """Deferred CCRs per state and the oldest unsettled one's created_at."""
        self._require_open()
        counts = dict.fromkeys(DeferredChargeState, 0)
        oldest: datetime | None = None
        for charge in self._deferred.values():
            counts[charge.state] += 1
            if not charge.state.is_final:
                created = charge.charge.created_at
                oldest = created if oldest is None else min(oldest, created)
        return DeferredChargeCounts(counts, oldest)

    def _heads(self) -> dict[str, _Record]:
        """Each recipient's oldest queued-or-delivering message."""
        heads: dict[str, _Record] = {}
        for record in self._records.values():  # insertion order is id order
            if record.state in _ACTIVE:
                heads.setdefault(record.message.recipient, record)
        return heads

    def _require_open(self) -> None:
        """StoreClosedError unless started and not closed."""
        if not self._open:
            raise StoreClosedError("the message store is not started")


def _deferred_due(charge: StoredDeferredCharge, now: datetime) -> bool:
    """Pending with its retry time reached (or none), or sending with its lease run out."""
    if charge.state is DeferredChargeState.PENDING:
        return charge.next_attempt_at is None or charge.next_attempt_at <= now
    if charge.state is DeferredChargeState.SENDING:
        return charge.lease_until is None or charge.lease_until <= now
    return False
