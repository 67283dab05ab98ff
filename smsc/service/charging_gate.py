"""Charge an MO short message before it is stored (TS 32.274 IEC) and say what to do with it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from charging.ccr import AddressType, SmsChargingEvent
from charging.client import ChargeResult, Unreachable
from charging.errors import ChargingError
from charging.results import DeliverFree, Proceed, Reject
from smsc.api.metrics import Metrics
from smsc.redact import subscriber
from smsc.service.model import ChargingRecord, DeferredCharge, NewMessage
from smsc.service.ports import Charger, MessageStore
from smsc.sms.constants import RpCause, TpFailureCause
from smsc.sms.tp import SmsSubmit
from smsc.store.errors import StoreError

log = logging.getLogger("smsc.charging")


@dataclass(frozen=True, slots=True)
class Admission:
    """Store and acknowledge the SMS, or answer RP-ERROR with these causes."""

    store: bool
    rp_cause: int | None = None
    failure_cause: int | None = None
    record: ChargingRecord | None = None
    """Not yet kept: the caller stores it with the message, in one transaction."""


def _outcome_name(result: ChargeResult) -> str:
    outcome = result.outcome
    if isinstance(outcome, Unreachable):
        return f"unreachable-{outcome.policy_applied}"
    if isinstance(outcome, Proceed):
        return "proceed"
    if isinstance(outcome, DeliverFree):
        return "deliver-free"
    return "reject"


class ChargingGate:
    """Runs the CCR for a chargeable MO, records the outcome, decides admission."""

    def __init__(
        self,
        charger: Charger,
        store: MessageStore,
        metrics: Metrics,
        failure_handling: str,
        *,
        country_code: str = "49",
    ) -> None:
        self.home_context = "+" + country_code
        """RFC 3966 §5.1.5: the phone-context of a short code's tel: URI (the home country)."""
        self.charger = charger
        self.store = store
        self.metrics = metrics
        self.failure_handling = failure_handling

    async def admit(
        self,
        stored: NewMessage,
        submit: SmsSubmit,
        ue_identity: str,
        pani: str | None,
        *,
        short_code: bool | None = None,
    ) -> Admission:
        """TS 32.274 §5.2: debit before delivery; a rejected SMS is never stored. The recipient
        is a short code when the dialling plan said so (None: when it has 6 digits or less)."""
        if short_code is None:
            short_code = len(stored.recipient) <= 6
        header = submit.user_data.header
        udh = None
        if header is not None:
            ies = b"".join(bytes((ie.iei, len(ie.data))) + ie.data for ie in header.elements)
            udh = bytes((len(ies),)) + ies
        event = SmsChargingEvent(
            charged_msisdn=stored.originator,
            recipient=stored.recipient,
            calling_party_address=ue_identity,
            called_party_address=f"tel:{stored.recipient};phone-context={self.home_context}"
            if short_code
            else f"tel:+{stored.recipient}",
            recipient_type=AddressType.NUMERIC_SHORTCODE if short_code else AddressType.MSISDN,
            segments=1,
            dcs=submit.dcs,
            pid=submit.pid,
            udh=udh,
            reply_path=submit.reply_path,
            pani=pani,
        )
        try:
            result = await self.charger.charge(event)
        except ChargingError as exc:
            log.error("charging failed before a CCR could be sent: %s", exc)
            return self._unavailable(stored)
        outcome = result.outcome
        rp_cause = outcome.rp_cause if isinstance(outcome, Reject) else None
        if isinstance(outcome, Unreachable) and outcome.policy_applied == "terminate":
            rp_cause = RpCause.TEMPORARY_FAILURE
        record = ChargingRecord(
            submission_id=stored.submission_id,
            at=datetime.now(UTC),
            originator=stored.originator,
            session_id=result.session_id,
            outcome=_outcome_name(result),
            result_code=result.result_code,
            units=1,
            granted_units=result.granted_units,
            roaming_status=stored.roaming_status,
            visited_plmn=stored.visited_plmn,
            peer=result.peer,
            retransmitted=result.retransmitted,
            latency_ms=result.latency_s * 1000,
            rp_cause=rp_cause,
        )
        self.metrics.charging_results.labels(str(result.result_code)).inc()
        self.metrics.charging_latency.observe(result.latency_s)
        if rp_cause is not None:
            await self.keep(record, stored)
            return Admission(False, rp_cause, TpFailureCause.UNSPECIFIED_ERROR_CAUSE)
        if isinstance(outcome, Unreachable) and result.ccr is not None:
            await self.keep(record, stored)
            await self._defer(stored, result, record.at)
            return Admission(True)
        return Admission(True, record=record)

    async def keep(self, record: ChargingRecord, stored: NewMessage) -> None:
        """Store a charging record on its own (the SMS is not stored, or not with it)."""
        try:
            await self.store.add_charging_record(record)
        except Exception:
            log.exception(
                "could not record the charging outcome of an MO from %s (RP-MR %s)",
                subscriber("+" + stored.originator),
                stored.rp_mr,
            )

    async def _defer(self, stored: NewMessage, result: ChargeResult, at: datetime) -> None:
        """Keep the unanswered CCR durably before the RP-ACK; on failure log and deliver."""
        assert result.ccr is not None
        charge = DeferredCharge(
            submission_id=stored.submission_id,
            session_id=result.session_id,
            originator=stored.originator,
            ccr=result.ccr,
            created_at=at,
        )
        try:
            await self.store.add_deferred_charge(charge)
        except StoreError as exc:
            log.error(
                "could not keep the unanswered CCR of an MO from %s (RP-MR %s), delivered "
                "uncharged: %s",
                subscriber("+" + stored.originator),
                stored.rp_mr,
                exc,
            )

    def _unavailable(self, stored: NewMessage) -> Admission:
        if self.failure_handling == "terminate":
            return Admission(False, RpCause.TEMPORARY_FAILURE, TpFailureCause.SC_BUSY)
        log.warning(  # not the submission id: it carries the sender's number
            "charging unavailable: the MO from %s (RP-MR %s) is delivered uncharged",
            subscriber("+" + stored.originator),
            stored.rp_mr,
        )
        return Admission(True)
