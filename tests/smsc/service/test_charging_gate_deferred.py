"""The charging gate keeps the CCR no OCS answered (issue 14): durable before the SMS is
acknowledged, byte for byte; what it cannot keep is logged and the SMS still delivered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from charging.ccr import SmsChargingEvent
from charging.client import ChargeOutcome, ChargeResult, Unreachable
from charging.results import Proceed
from smsc import redact
from smsc.api.metrics import Metrics
from smsc.service.charging_gate import Admission, ChargingGate
from smsc.service.model import DeferredCharge, DeferredChargeState, MessageOrigin, NewMessage
from smsc.sms.constants import RpCause, RpMessageType, TpFailureCause
from smsc.sms.tp import SmsSubmit, decode_tpdu
from smsc.store import MemoryMessageStore
from smsc.store.errors import StoreUnavailable

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
# the T-flagged copy the client gives back: command flags 0xd0 (request, proxiable, T)
CCR = bytes.fromhex("010000b0d0000110000000040102030405060708") + b"\x00\xff\x10" * 20
SESSION = "smsc.ims.example.net;1767225600;7"


class ScriptedCharger:
    """Answers every `charge` with one outcome (and the CCR when it is Unreachable)."""

    def __init__(self, outcome: ChargeOutcome, ccr: bytes | None = CCR) -> None:
        self.outcome = outcome
        self.ccr = ccr

    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        return ChargeResult(
            outcome=self.outcome,
            session_id=SESSION,
            result_code=None,
            granted_units=None,
            peer="ocs2.example.net",
            retransmitted=True,
            latency_s=4.0,
            ccr=self.ccr if isinstance(self.outcome, Unreachable) else None,
        )

    async def charge_again(self, ccr: bytes) -> ChargeResult:
        raise AssertionError("the gate sends a CCR once")


class UnkeepingStore(MemoryMessageStore):
    """Keeps charging records, not deferred CCRs."""

    async def add_deferred_charge(self, charge: DeferredCharge) -> int:
        raise StoreUnavailable("database unreachable: disk full")


def _submit() -> SmsSubmit:
    submit = decode_tpdu(SUBMIT, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(submit, SmsSubmit)
    return submit


@pytest.fixture(autouse=True)
def masked() -> None:
    redact.show_subscriber_data(False)


@pytest.fixture
async def store() -> AsyncIterator[MemoryMessageStore]:
    memory = MemoryMessageStore()
    await memory.start()
    yield memory
    await memory.close()


async def test_continue_keeps_the_unanswered_ccr_unchanged(store: MemoryMessageStore) -> None:
    charger = ScriptedCharger(Unreachable("continue", "timeout"))
    gate = ChargingGate(charger, store, Metrics(), "continue")
    assert await gate.admit(MO, _submit(), f"tel:+{SENDER}", None) == Admission(True)
    [claimed] = await store.claim_due_deferred_charges(datetime.now(UTC), 10, 60.0)
    assert claimed.charge.ccr == CCR  # byte for byte, T flag and all
    assert claimed.charge.session_id == SESSION
    assert claimed.charge.submission_id == MO.submission_id
    assert claimed.charge.originator == SENDER
    assert claimed.attempts == 0
    [record] = await store.charging_records(MO.submission_id)
    assert record.outcome == "unreachable-continue"
    assert claimed.charge.created_at == record.at


@pytest.mark.parametrize(
    ("charger", "failure_handling", "admission"),
    [
        (ScriptedCharger(Proceed()), "continue", Admission(True)),
        (
            ScriptedCharger(Unreachable("continue", "no peer"), ccr=None),
            "continue",
            Admission(True),
        ),
        (
            ScriptedCharger(Unreachable("terminate", "timeout")),
            "terminate",
            Admission(False, RpCause.TEMPORARY_FAILURE, TpFailureCause.UNSPECIFIED_ERROR_CAUSE),
        ),
    ],
    ids=["charged", "no-ccr", "terminate"],
)
async def test_nothing_is_deferred_otherwise(
    store: MemoryMessageStore,
    charger: ScriptedCharger,
    failure_handling: str,
    admission: Admission,
) -> None:
    gate = ChargingGate(charger, store, Metrics(), failure_handling)
    got = await gate.admit(MO, _submit(), f"tel:+{SENDER}", None)
    assert replace(got, record=None) == admission  # an admitted MO carries its record
    assert (got.record is not None) is got.store
    counts = await store.deferred_charge_counts()
    assert counts.by_state == dict.fromkeys(DeferredChargeState, 0)


async def test_a_ccr_that_cannot_be_kept_is_an_error_and_the_sms_is_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.charging")
    store = UnkeepingStore()
    await store.start()
    gate = ChargingGate(
        ScriptedCharger(Unreachable("continue", "timeout")), store, Metrics(), "continue"
    )
    assert await gate.admit(MO, _submit(), f"tel:+{SENDER}", None) == Admission(True)
    [error] = caplog.records
    assert error.levelno == logging.ERROR
    assert error.getMessage() == (
        "could not keep the unanswered CCR of an MO from +*********123 (RP-MR 7), delivered "
        "uncharged: database unreachable: disk full"
    )
    assert len(await store.charging_records(MO.submission_id)) == 1
