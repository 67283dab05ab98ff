"""SQLAlchemy Core tables of the message store and the mapping between rows and the model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)

from smsc.service.model import (
    Attempt,
    ChargingRecord,
    DeferredCharge,
    DeferredChargeState,
    MessageOrigin,
    MessageState,
    NewMessage,
    StoredDeferredCharge,
    StoredMessage,
)

__all__ = [
    "ACTIVE_STATES",
    "PRIORITY_INDEX",
    "UtcDateTime",
    "attempt_from_row",
    "attempts",
    "charging_record_from_row",
    "charging_records",
    "charging_row",
    "clean_attempt",
    "clean_charging_record",
    "clean_deferred_charge",
    "clean_message",
    "clean_text",
    "deferred_charge_from_row",
    "deferred_charge_row",
    "deferred_charges",
    "initial_state",
    "message_row",
    "messages",
    "metadata",
    "mo_duplicate_keys",
    "replacement_values",
    "stored_message",
    "to_utc",
]

ACTIVE_STATES = (MessageState.QUEUED.value, MessageState.DELIVERING.value)
"""States that hold a recipient's queue: the oldest active message is the only one to claim.
A scheduled message holds no place in it until its time comes (`initial_state`)."""

_ID = BigInteger().with_variant(Integer(), "sqlite")
PRIORITY_INDEX = "ix_messages_priority_state_id"
"""The partial index of priority messages (priority > 0): the due priority heads are found
without walking the others."""


def to_utc(value: datetime) -> datetime:
    """The same instant with tzinfo UTC; naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: the store needs aware datetimes")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC (naive UTC text on SQLite) and read back aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = to_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

messages = Table(
    "messages",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("submission_id", String(), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("originator", String(), nullable=False),
    Column("originator_ton", Integer, nullable=False),
    Column("recipient", String(), nullable=False),
    Column("submit_tpdu", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("segment", Integer, nullable=False),
    Column("segments", Integer, nullable=False),
    Column("text", Text, nullable=True),
    Column("status_report", Boolean, nullable=False),
    Column("rp_mr", Integer, nullable=True),
    Column("source", String(), nullable=True),
    Column("call_id", String(), nullable=True),
    Column("tp_mr", Integer, nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_sip_status", Integer, nullable=True),
    Column("last_rp_cause", Integer, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("roaming_status", String(), nullable=True),
    Column("visited_plmn", String(), nullable=True),
    Column("callback_url", Text, nullable=True),
    Column("client_ref", String(), nullable=True),
    Column("deliver_at", UtcDateTime, nullable=True),
    Column("priority", SmallInteger, nullable=False, server_default=text("0")),
    Index("ix_messages_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_messages_state_id", "state", "id"),
    Index(
        PRIORITY_INDEX,
        "state",
        "id",
        sqlite_where=text("priority > 0"),
        postgresql_where=text("priority > 0"),
    ),
    Index("ix_messages_recipient_state_id", "recipient", "state", "id"),
    Index("ix_messages_submission_id", "submission_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        _ID,
        ForeignKey("messages.id", ondelete="CASCADE", name="fk_attempts_message_id"),
        nullable=False,
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("sip_status", Integer, nullable=True),
    Column("rp_cause", Integer, nullable=True),
    Column("outcome", String(), nullable=False),
    Index("ix_attempts_message_id", "message_id", "id"),
)

charging_records = Table(
    "charging_records",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("submission_id", String(), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("originator", String(), nullable=False),
    Column("session_id", String(), nullable=False),
    Column("outcome", String(), nullable=False),
    Column("result_code", Integer, nullable=True),
    Column("units", Integer, nullable=True),
    Column("granted_units", Integer, nullable=True),
    Column("roaming_status", String(), nullable=True),
    Column("visited_plmn", String(), nullable=True),
    Column("peer", String(), nullable=True),
    Column("retransmitted", Boolean, nullable=False),
    Column("latency_ms", Double, nullable=True),
    Column("rp_cause", Integer, nullable=True),
    Index("ix_charging_records_submission_id", "submission_id", "at", "id"),
)
"""Ro credit control outcomes by submission id; no foreign key: rejected SMS have no message."""

deferred_charges = Table(
    "deferred_charges",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("submission_id", String(), nullable=False),
    Column("session_id", String(), nullable=False),
    Column("originator", String(), nullable=False),
    Column("ccr", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("last_result_code", Integer, nullable=True),
    Column("last_reason", Text, nullable=True),
    Column("done_at", UtcDateTime, nullable=True),
    Index("ix_deferred_charges_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_deferred_charges_state_created_at", "state", "created_at"),
)
"""CCRs no OCS answered (`charging.failure_handling: continue`), replayed until one does;
kept after their final state, like the charging records."""

mo_duplicate_keys = Table(
    "mo_duplicate_keys",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("until", UtcDateTime, nullable=False),
    Index("ix_mo_duplicate_keys_until", "until"),
)
"""One row per stored MO key: a re-sent MO (same key) before `until` is not stored again.

A key whose window has ended is taken over by the next MO that carries it; rows long past
their window are deleted by the writers from time to time."""


def clean_text(value: str) -> str:
    """Text every database accepts: NUL becomes U+FFFD, lone surrogates become '?'."""
    if value.isascii() and "\x00" not in value:
        return value
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _clean_optional(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def clean_message(message: NewMessage) -> NewMessage:
    """The message as the store keeps it: UTC times, plain bytes, storable text."""
    return replace(
        message,
        submission_id=clean_text(message.submission_id),
        originator=clean_text(message.originator),
        recipient=clean_text(message.recipient),
        submit_tpdu=bytes(message.submit_tpdu),
        received_at=to_utc(message.received_at),
        expires_at=to_utc(message.expires_at),
        text=_clean_optional(message.text),
        source=_clean_optional(message.source),
        call_id=_clean_optional(message.call_id),
        roaming_status=_clean_optional(message.roaming_status),
        visited_plmn=_clean_optional(message.visited_plmn),
        callback_url=_clean_optional(message.callback_url),
        client_ref=_clean_optional(message.client_ref),
        deliver_at=None if message.deliver_at is None else to_utc(message.deliver_at),
    )


def initial_state(message: NewMessage) -> MessageState:
    """A new message is queued, or scheduled when it has a delivery time (its next_attempt_at
    is that time, so the index on state and next_attempt_at finds it when it comes)."""
    return MessageState.QUEUED if message.deliver_at is None else MessageState.SCHEDULED


def clean_attempt(attempt: Attempt) -> Attempt:
    """The attempt as the store keeps it: UTC time, storable outcome text."""
    return replace(attempt, at=to_utc(attempt.at), outcome=clean_text(attempt.outcome))


def message_row(message: NewMessage, updated_at: datetime) -> dict[str, Any]:
    """The `messages` row of a newly accepted message (queued or scheduled, no attempt yet)."""
    message = clean_message(message)
    return {
        "submission_id": message.submission_id,
        "origin": message.origin.value,
        "originator": message.originator,
        "originator_ton": message.originator_ton,
        "recipient": message.recipient,
        "submit_tpdu": message.submit_tpdu,
        "received_at": message.received_at,
        "expires_at": message.expires_at,
        "segment": message.segment,
        "segments": message.segments,
        "text": message.text,
        "status_report": message.status_report,
        "rp_mr": message.rp_mr,
        "source": message.source,
        "call_id": message.call_id,
        "tp_mr": message.tp_mr,
        "roaming_status": message.roaming_status,
        "visited_plmn": message.visited_plmn,
        "callback_url": message.callback_url,
        "client_ref": message.client_ref,
        "deliver_at": message.deliver_at,
        "priority": message.priority,
        "state": initial_state(message).value,
        "attempts": 0,
        "last_sip_status": None,
        "last_rp_cause": None,
        "next_attempt_at": message.deliver_at,
        "updated_at": updated_at,
        "delivered_at": None,
    }


def replacement_values(message: NewMessage, *, reschedule: bool, now: datetime) -> dict[str, Any]:
    """The `messages` columns replace_sm changes (see MessageStore.replace_pending): content,
    expiry, receipt, updated_at (`now`); with `reschedule`, the delivery time, state and next
    attempt."""
    row = message_row(message, now)
    values = {name: row[name] for name in _REPLACED}
    values["updated_at"] = now
    if reschedule:
        values.update(
            deliver_at=row["deliver_at"],
            state=row["state"],
            next_attempt_at=row["next_attempt_at"],
        )
    return values


_REPLACED = ("submit_tpdu", "text", "expires_at", "status_report", "source")


def stored_message(
    row: Mapping[Any, Any], history: Iterable[Attempt] = (), *, more_queued: bool = False
) -> StoredMessage:
    """A StoredMessage from a `messages` row (mapping keyed by column name)."""
    return StoredMessage(
        id=int(row["id"]),
        message=NewMessage(
            submission_id=row["submission_id"],
            origin=MessageOrigin(row["origin"]),
            originator=row["originator"],
            originator_ton=row["originator_ton"],
            recipient=row["recipient"],
            submit_tpdu=bytes(row["submit_tpdu"]),
            received_at=row["received_at"],
            expires_at=row["expires_at"],
            segment=row["segment"],
            segments=row["segments"],
            text=row["text"],
            status_report=bool(row["status_report"]),
            rp_mr=row["rp_mr"],
            source=row["source"],
            call_id=row["call_id"],
            tp_mr=row["tp_mr"],
            roaming_status=row["roaming_status"],
            visited_plmn=row["visited_plmn"],
            callback_url=row["callback_url"],
            client_ref=row["client_ref"],
            deliver_at=row["deliver_at"],
            priority=row["priority"],
        ),
        state=MessageState(row["state"]),
        attempts=row["attempts"],
        last_sip_status=row["last_sip_status"],
        last_rp_cause=row["last_rp_cause"],
        next_attempt_at=row["next_attempt_at"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        history=tuple(history),
        more_queued=more_queued,
    )


def attempt_from_row(row: Mapping[Any, Any]) -> Attempt:
    """An Attempt from an `attempts` row."""
    return Attempt(
        at=row["at"], sip_status=row["sip_status"], rp_cause=row["rp_cause"], outcome=row["outcome"]
    )


def clean_charging_record(record: ChargingRecord) -> ChargingRecord:
    """The charging record as the store keeps it: UTC time, storable text."""
    return replace(
        record,
        submission_id=clean_text(record.submission_id),
        at=to_utc(record.at),
        originator=clean_text(record.originator),
        session_id=clean_text(record.session_id),
        outcome=clean_text(record.outcome),
        roaming_status=_clean_optional(record.roaming_status),
        visited_plmn=_clean_optional(record.visited_plmn),
        peer=_clean_optional(record.peer),
        retransmitted=bool(record.retransmitted),
        latency_ms=None if record.latency_ms is None else float(record.latency_ms),
    )


def charging_row(record: ChargingRecord) -> dict[str, Any]:
    """The `charging_records` row of a record (cleaned here)."""
    record = clean_charging_record(record)
    return {
        "submission_id": record.submission_id,
        "at": record.at,
        "originator": record.originator,
        "session_id": record.session_id,
        "outcome": record.outcome,
        "result_code": record.result_code,
        "units": record.units,
        "granted_units": record.granted_units,
        "roaming_status": record.roaming_status,
        "visited_plmn": record.visited_plmn,
        "peer": record.peer,
        "retransmitted": record.retransmitted,
        "latency_ms": record.latency_ms,
        "rp_cause": record.rp_cause,
    }


def charging_record_from_row(row: Mapping[Any, Any]) -> ChargingRecord:
    """A ChargingRecord from a `charging_records` row."""
    latency = row["latency_ms"]
    return ChargingRecord(
        submission_id=row["submission_id"],
        at=row["at"],
        originator=row["originator"],
        session_id=row["session_id"],
        outcome=row["outcome"],
        result_code=row["result_code"],
        units=row["units"],
        granted_units=row["granted_units"],
        roaming_status=row["roaming_status"],
        visited_plmn=row["visited_plmn"],
        peer=row["peer"],
        retransmitted=bool(row["retransmitted"]),
        latency_ms=None if latency is None else float(latency),
        rp_cause=row["rp_cause"],
    )


def clean_deferred_charge(charge: DeferredCharge) -> DeferredCharge:
    """The deferred CCR as the store keeps it: UTC time, plain bytes, storable text."""
    return replace(
        charge,
        submission_id=clean_text(charge.submission_id),
        session_id=clean_text(charge.session_id),
        originator=clean_text(charge.originator),
        ccr=bytes(charge.ccr),
        created_at=to_utc(charge.created_at),
    )


def deferred_charge_row(charge: DeferredCharge) -> dict[str, Any]:
    """The `deferred_charges` row of a new deferred CCR: pending, due at once."""
    charge = clean_deferred_charge(charge)
    return {
        "submission_id": charge.submission_id,
        "session_id": charge.session_id,
        "originator": charge.originator,
        "ccr": charge.ccr,
        "created_at": charge.created_at,
        "state": DeferredChargeState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "updated_at": charge.created_at,
        "last_result_code": None,
        "last_reason": None,
        "done_at": None,
    }


def deferred_charge_from_row(row: Mapping[Any, Any]) -> StoredDeferredCharge:
    """A StoredDeferredCharge from a `deferred_charges` row."""
    return StoredDeferredCharge(
        id=int(row["id"]),
        charge=DeferredCharge(
            submission_id=row["submission_id"],
            session_id=row["session_id"],
            originator=row["originator"],
            ccr=bytes(row["ccr"]),
            created_at=row["created_at"],
        ),
        state=DeferredChargeState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        last_result_code=row["last_result_code"],
        last_reason=row["last_reason"],
        done_at=row["done_at"],
    )
