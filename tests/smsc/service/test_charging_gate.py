"""The charging gate's log lines name the MO without the sender's number in the clear (the
submission id carries it, so it is not logged)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from charging.ccr import SmsChargingEvent
from charging.client import ChargeResult, Unreachable
from charging.errors import ChargingError
from charging.results import Reject
from smsc import redact
from smsc.api.metrics import Metrics
from smsc.service.charging_gate import Admission, ChargingGate
from smsc.service.model import ChargingRecord, MessageOrigin, NewMessage
from smsc.sms.constants import RpCause, RpMessageType
from smsc.sms.tp import SmsSubmit, decode_tpdu

# SMS-SUBMIT, TP-MR 0, TP-DA +49171000001, GSM 7-bit "Test"
SUBMIT = bytes.fromhex("01000B919471010000F10000" + "04D4F29C0E")
SENDER = "491710000123"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MO = NewMessage(
    submission_id=f"{SENDER}-call-7",
    origin=MessageOrigin.MO,
    originator=SENDER,
    originator_ton=1,
    recipient="49171000001",
    submit_tpdu=SUBMIT,
    received_at=NOW,
    expires_at=NOW + timedelta(days=1),
    rp_mr=7,
)


class FailingCharger:
    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        raise ChargingError("the client is not started")


class UnreachableCharger:
    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        return ChargeResult(
            outcome=Unreachable("continue", "no peer"),
            session_id="session",
            result_code=None,
            granted_units=None,
            peer=None,
            retransmitted=False,
            latency_s=0.0,
        )


class RejectingCharger:
    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        return ChargeResult(
            outcome=Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, permanent=True),
            session_id="session",
            result_code=4012,
            granted_units=None,
            peer="ocs",
            retransmitted=False,
            latency_s=0.0,
        )


class BrokenRecordStore:
    async def add_charging_record(self, record: ChargingRecord) -> None:
        raise RuntimeError("disk on fire")


def _submit() -> SmsSubmit:
    submit = decode_tpdu(SUBMIT, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(submit, SmsSubmit)
    return submit


@pytest.fixture(autouse=True)
def masked() -> None:
    redact.show_subscriber_data(False)


async def test_an_uncharged_mo_is_a_warning_without_the_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.charging")
    gate = ChargingGate(FailingCharger(), BrokenRecordStore(), Metrics(), "continue")  # type: ignore[arg-type]
    assert await gate.admit(MO, _submit(), f"tel:+{SENDER}", None) == Admission(True)
    messages = [r.getMessage() for r in caplog.records]
    assert "charging unavailable: the MO from +*********123 (RP-MR 7) is delivered uncharged" in (
        messages
    )
    assert all(SENDER not in m for m in messages), messages


async def test_an_unrecorded_charging_outcome_is_logged_without_the_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.charging")
    gate = ChargingGate(RejectingCharger(), BrokenRecordStore(), Metrics(), "continue")  # type: ignore[arg-type]
    admission = await gate.admit(MO, _submit(), f"tel:+{SENDER}", None)
    assert admission.store is False  # the SMS is not stored: the gate keeps the record itself
    [error] = caplog.records
    assert error.getMessage() == (
        "could not record the charging outcome of an MO from +*********123 (RP-MR 7)"
    )
    assert error.exc_info is not None


async def test_an_admitted_mo_carries_its_record_for_the_message_transaction() -> None:
    """Charged (or not answered, with nothing to defer): the record is the caller's to store
    with the message, in one transaction; the gate writes nothing itself."""
    gate = ChargingGate(UnreachableCharger(), BrokenRecordStore(), Metrics(), "continue")  # type: ignore[arg-type]
    admission = await gate.admit(MO, _submit(), f"tel:+{SENDER}", None)
    assert admission.store is True
    assert admission.record is not None
    assert (admission.record.submission_id, admission.record.outcome) == (
        MO.submission_id,
        "unreachable-continue",
    )
