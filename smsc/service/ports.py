"""The Protocols the services depend on; adapters in store/ and transport/ implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from smsc.service.model import (
    Attempt,
    ChargingRecord,
    DeferredCharge,
    DeferredChargeCounts,
    DeferredChargeState,
    DuplicateKey,
    MessageState,
    NewMessage,
    RecentMo,
    StoredDeferredCharge,
    StoredMessage,
)
from smsc.sip.constants import Address, Transport
from smsc.sip.events import IncomingRequest
from smsc.sip.message import SipRequest

if TYPE_CHECKING:
    from charging.ccr import SmsChargingEvent
    from charging.client import ChargeResult
    from smsc.outbox.jobs import NewOutboxJob, OutboxKind, StoredOutboxJob


class DeferredChargeStore(Protocol):
    """CCRs no OCS answered, kept until one does (smsc.service.deferred_charging)."""

    async def add_deferred_charge(self, charge: DeferredCharge) -> int:
        """Keep a CCR, pending and due at once; returns its id once it is committed."""

    async def claim_due_deferred_charges(
        self, now: datetime, limit: int, lease_s: float
    ) -> list[StoredDeferredCharge]:
        """Move up to `limit` due CCRs to sending until `now` + `lease_s`, oldest first, and
        return them. Due: pending and its retry time reached (or none), or sending with its
        lease run out (a sender that died). Concurrent claimers never get the same CCR."""

    async def make_deferred_charges_due(self, now: datetime) -> int:
        """Every pending CCR due later than `now` (waiting out its back-off) due at `now`; how
        many. Sending CCRs (their lease runs out by itself) and final ones are left alone."""

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
        """Count one replay of a claimed CCR: pending again (due at `next_attempt_at`), or a
        final state (charged, rejected, failed) kept with `record` in the same transaction.

        False, and nothing kept, when the CCR is final already, or (pending asked) no longer
        sending: another claimer took it over after this one's lease ran out.
        """

    async def deferred_charge_counts(self) -> DeferredChargeCounts:
        """CCRs per state, and when the oldest unsettled one was kept, for /metrics and the API."""


class MessageStore(DeferredChargeStore, Protocol):
    """Durable message store (SQLAlchemy on SQLite or PostgreSQL, or the in-memory twin)."""

    async def start(self) -> None:
        """Connect and run migrations."""

    async def close(self) -> None:
        """Flush pending writes and disconnect."""

    async def add(self, message: NewMessage) -> int:
        """Store a message; returns its id once it is committed (writes are grouped)."""

    async def add_many(self, messages: Sequence[NewMessage]) -> list[int]:
        """Store several messages in one commit; ids in the same order."""

    async def get(self, message_id: int) -> StoredMessage | None:
        """One message with its attempts."""

    async def waiting_for(self, recipient: str, limit: int = 100) -> list[StoredMessage]:
        """The recipient's scheduled, queued and delivering messages, oldest first."""

    async def get_submission(self, submission_id: str) -> list[StoredMessage]:
        """Every segment of one submission, in segment order."""

    async def due_recipients(self, now: datetime, limit: int) -> list[str]:
        """Recipients whose head is queued and due at `now`: those of priority SMS first,
        then the others, each oldest first."""

    async def claim_next(self, recipient: str, now: datetime) -> StoredMessage | None:
        """Move the recipient's oldest due queued message to delivering and return it."""

    async def release_recipients(self, recipients: Sequence[str], now: datetime) -> int:
        """Make the recipients' queued messages due at `now` (RP-SMMA, new registration, a
        priority SMS), in one transaction.

        Messages parked on memory-full or waiting for a route or a retry; returns how many
        were waiting.
        """

    async def claim_heads(self, recipients: Sequence[str], now: datetime) -> list[StoredMessage]:
        """`claim_next` for several recipients at once (one statement on SQL); oldest first,
        each with `more_queued` set when its recipient has more queued behind it."""

    async def queue_scheduled(self, now: datetime) -> list[tuple[str, int]]:
        """Scheduled messages whose delivery time is `now` or earlier join their recipients'
        queues, where they keep their place by id (ahead of messages submitted after them);
        those of a recipient with a message delivering wait for a later call. Returns the
        (recipient, priority) of each message queued."""

    async def cancel_pending(self, submission_id: str, now: datetime) -> int:
        """The submission's messages not yet tried or between tries (scheduled, queued)
        become cancelled; one delivering is left as it is. Returns how many were cancelled."""

    async def replace_pending(
        self, message_id: int, message: NewMessage, *, reschedule: bool, now: datetime
    ) -> bool:
        """SMPP replace_sm: a message still scheduled or queued gets `message`'s SMS-SUBMIT,
        text, expiry, receipt request and source; with `reschedule`, its delivery time too
        (scheduled until `message.deliver_at`, or queued and due now without one). False when
        it is no longer pending (delivering or final), or unknown."""

    async def record_attempt(
        self,
        message_id: int,
        state: MessageState,
        attempt: Attempt,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record the outcome of a delivery attempt and the message's new state."""

    async def requeue_delivering(self, claimed_before: datetime | None = None) -> int:
        """Messages left in delivering (claimed before `claimed_before`, when given: a dead
        instance's lease ran out) go back to queued; returns how many."""

    async def count_by_state(self) -> dict[MessageState, int]:
        """Queue depth and totals, for /metrics."""

    async def recent_mo(self, since: datetime, limit: int) -> list[RecentMo]:
        """MO messages received at or after `since`, newest first, at most `limit`: what the
        duplicate filter must know again after a restart."""

    async def add_charging_record(self, record: ChargingRecord) -> None:
        """Keep one Ro charging record; durable when this returns."""

    async def charging_records(self, submission_id: str) -> list[ChargingRecord]:
        """The charging records of one submission, oldest first."""


J = TypeVar("J")


class DeliveryQueue(Protocol[J]):
    """Persisted jobs of one kind waiting to be POSTed (smsc.outbox.engine): the AML store's
    reports, the outbox's jobs. Times are aware datetimes."""

    async def claim_due(self, now: datetime, limit: int, *, lease_s: float) -> list[J]:
        """Move up to `limit` due jobs to delivering, oldest first, and return them. Due:
        pending and its retry time reached, or delivering with its lease expired (a claimer
        that died). Concurrent claimers never get the same job."""

    async def record_attempt(
        self,
        job_id: int,
        at: datetime,
        ok: bool,
        *,
        http_status: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Keep one attempt: ok -> delivered, else pending again, due at `next_attempt_at`."""

    async def requeue_delivering(self) -> int:
        """Jobs left in delivering (by a stopped process) are due again; how many."""

    async def oldest_pending_age(self, now: datetime) -> float | None:
        """Seconds since the oldest undelivered job was received; None if none."""

    async def overdue(self, received_before: datetime, limit: int) -> list[int]:
        """Ids of undelivered jobs received before `received_before`, oldest first."""


class OutboxSubmitter(Protocol):
    """Hands a job to the outbox (smsc.outbox): durable when this returns, then POSTed until a
    2xx; an MO's duplicate key is taken in the same transaction (DuplicateMessageError)."""

    async def submit(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        """Keep the job; returns its id once committed."""


class MtDelivery(Protocol):
    """What a submitter tells MT delivery (smsc.service.mt.MtService) of a message it stored."""

    def wake(self, recipients: Iterable[str] = ()) -> None:
        """New messages for `recipients` may be deliverable now."""

    def release_soon(self, msisdn: str) -> None:
        """A priority SMS for `msisdn` (TS 29.002 SM-RP-PRI): its waiting queue (backing off,
        parked on memory-full) is tried at once."""


class SipSender(Protocol):
    """Sends through the SIP endpoint; implemented by the transport."""

    def respond(
        self,
        event: IncomingRequest,
        status: int,
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        """Answer a received request."""

    def request(
        self, request: SipRequest, destination: Address, transport: Transport, context: object
    ) -> None:
        """Send a request in a new client transaction; its outcome comes back as an event."""

    def message(
        self,
        uri: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        destination: Address,
        transport: Transport,
        *,
        context: object,
        fallback: Address | None = None,
    ) -> None:
        """`request` of a MESSAGE given as header pairs (Via, Max-Forwards, User-Agent and
        Content-Length are added); the outcome comes back as an event. Over TCP, when no
        connection to `destination` is open any more, `fallback` is connected instead."""


class Charger(Protocol):
    """Online charging of one MO short message (implemented by charging.client)."""

    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        """Debit it; OCS failures come back as an Unreachable outcome, not as exceptions."""

    async def charge_again(self, ccr: bytes) -> ChargeResult:
        """Send a kept CCR (`ChargeResult.ccr` of an Unreachable outcome) as it is; OCS
        failures come back as an Unreachable outcome (its `ccr` unset or the same bytes)."""


class RouteExplainer(Protocol):
    """Why MT SMS to a recipient cannot leave now (implemented by the composition root)."""

    async def why_unroutable(self, msisdn: str) -> str | None:
        """A sentence naming what is missing, or None when a route exists."""
        ...


class OutboxStore(DeliveryQueue["StoredOutboxJob"], Protocol):
    """The outbox's jobs (smsc.store.outbox_sql on SQLite/PostgreSQL, outbox_memory in tests)."""

    async def start(self) -> None:
        """Get ready (the SQL store shares the started message store's engine)."""

    async def close(self) -> None:
        """Stop accepting work."""

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_s: float = ...,
        kinds: Collection[OutboxKind] | None = None,
        targets: Collection[str] | None = None,
    ) -> list[StoredOutboxJob]:
        """DeliveryQueue.claim_due, of the jobs of `kinds` for `targets` only when given (None:
        any; an empty collection: none)."""

    async def oldest_pending_age(
        self, now: datetime, *, kinds: Collection[OutboxKind] | None = None
    ) -> float | None:
        """DeliveryQueue.oldest_pending_age, of the jobs of `kinds` only when given."""

    async def overdue(
        self,
        received_before: datetime,
        limit: int,
        *,
        kinds: Collection[OutboxKind] | None = None,
    ) -> list[int]:
        """DeliveryQueue.overdue, of the jobs of `kinds` only when given."""

    async def add(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        """Keep a job; its id once committed. A job whose dedupe_key is kept already: the kept
        job's id. With `duplicate` (an MO's key), the key is taken in the same transaction;
        DuplicateMessageError (nothing kept) while another holds it."""

    async def get(self, job_id: int) -> StoredOutboxJob | None:
        """One job."""

    async def group(self, group_key: str) -> list[StoredOutboxJob]:
        """The jobs of one concatenated message, oldest first."""

    async def counts(self) -> dict[tuple[str, str], int]:
        """Jobs by (kind, state), for /metrics."""
