"""Status reports of final MT outcomes (TS 23.040 §9.2.2.3).

An MO SMS-SUBMIT with TP-SRR gets an SMS-STATUS-REPORT, stored as a new message to the
originator and delivered like any MT (its TPDU is sent as-is). An API submission with
`status_report: true` gets a webhook POST instead, when one is configured. An ESME's submit_sm
with registered_delivery gets an SMPP 3.4 Appendix B receipt, a deliver_sm kept in the outbox
until the ESME is bound as a receiver and answers it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from smsc.api.metrics import Metrics
from smsc.outbox.jobs import NewOutboxJob, OutboxKind
from smsc.service.model import (
    MessageOrigin,
    MessageState,
    NewMessage,
    StoredMessage,
    first_failed,
    smpp_account,
)
from smsc.service.ports import MessageStore, OutboxSubmitter
from smsc.smpp.receipts import receipt_job
from smsc.sms.address import Address
from smsc.sms.constants import RpCause, RpMessageType, TpStatus, TypeOfNumber
from smsc.sms.errors import DecodeError
from smsc.sms.tp import SmsStatusReport, SmsSubmit, decode_tpdu, encode_tpdu

log = logging.getLogger("smsc.reports")

# TS 23.040 §9.2.3.15 TP-ST for a message failed on a permanent RP-Cause (TS 24.011 Table 8.4).
TP_ST_BY_RP_CAUSE: Mapping[int, TpStatus] = {
    RpCause.UNASSIGNED_NUMBER: TpStatus.PERM_NOT_OBTAINABLE,
    RpCause.UNIDENTIFIED_SUBSCRIBER: TpStatus.PERM_NOT_OBTAINABLE,
    RpCause.UNKNOWN_SUBSCRIBER: TpStatus.PERM_NOT_OBTAINABLE,
    RpCause.OPERATOR_DETERMINED_BARRING: TpStatus.PERM_CONNECTION_REJECTED_BY_SME,
    RpCause.CALL_BARRED: TpStatus.PERM_CONNECTION_REJECTED_BY_SME,
    RpCause.SHORT_MESSAGE_TRANSFER_REJECTED: TpStatus.PERM_CONNECTION_REJECTED_BY_SME,
    RpCause.FACILITY_REJECTED: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    RpCause.REQUESTED_FACILITY_NOT_SUBSCRIBED: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    RpCause.REQUESTED_FACILITY_NOT_IMPLEMENTED: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    RpCause.SEMANTICALLY_INCORRECT_MESSAGE: TpStatus.PERM_REMOTE_PROCEDURE_ERROR,
    RpCause.INVALID_MANDATORY_INFORMATION: TpStatus.PERM_REMOTE_PROCEDURE_ERROR,
    RpCause.MESSAGE_TYPE_NON_EXISTENT: TpStatus.PERM_REMOTE_PROCEDURE_ERROR,
    RpCause.INFORMATION_ELEMENT_NON_EXISTENT: TpStatus.PERM_REMOTE_PROCEDURE_ERROR,
    RpCause.PROTOCOL_ERROR_UNSPECIFIED: TpStatus.PERM_REMOTE_PROCEDURE_ERROR,
    RpCause.INTERWORKING_UNSPECIFIED: TpStatus.PERM_NO_INTERWORKING_AVAILABLE,
}
# TP-ST for a message failed on a permanent SIP answer to the MT MESSAGE (RFC 3261 §21).
TP_ST_BY_SIP_STATUS: Mapping[int, TpStatus] = {
    404: TpStatus.PERM_NOT_OBTAINABLE,
    410: TpStatus.PERM_NOT_OBTAINABLE,
    484: TpStatus.PERM_NOT_OBTAINABLE,
    604: TpStatus.PERM_NOT_OBTAINABLE,
    403: TpStatus.PERM_CONNECTION_REJECTED_BY_SME,
    603: TpStatus.PERM_CONNECTION_REJECTED_BY_SME,
    413: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    415: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    416: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
    488: TpStatus.PERM_INCOMPATIBLE_DESTINATION,
}


def tp_status(state: MessageState, rp_cause: int | None, sip_status: int | None) -> TpStatus:
    """TS 23.040 §9.2.3.15 TP-ST of a final outcome; failures by cause, else remote error."""
    if state is MessageState.DELIVERED:
        return TpStatus.RECEIVED_BY_SME
    if state is MessageState.EXPIRED:
        return TpStatus.PERM_VALIDITY_PERIOD_EXPIRED
    if state is MessageState.CANCELLED:
        return TpStatus.PERM_DELETED_BY_ORIGINATING_SME
    if rp_cause is not None and rp_cause in TP_ST_BY_RP_CAUSE:
        return TP_ST_BY_RP_CAUSE[rp_cause]
    if sip_status is not None and sip_status in TP_ST_BY_SIP_STATUS:
        return TP_ST_BY_SIP_STATUS[sip_status]
    return TpStatus.PERM_REMOTE_PROCEDURE_ERROR


def reported_recipient(message: NewMessage) -> Address:
    """TP-RA: the TP-DA of the reported SMS-SUBMIT (the stored recipient if it won't decode)."""
    try:
        submit = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    except DecodeError:
        submit = None
    if isinstance(submit, SmsSubmit):
        return submit.destination
    return Address.international(message.recipient)


def status_report_tpdu(message: NewMessage, status: TpStatus, at: datetime) -> bytes:
    """TS 23.040 §9.2.2.3: TP-MR of the submit, TP-SCTS its receipt, TP-DT `at`."""
    report = SmsStatusReport(
        message_reference=message.tp_mr or 0,
        recipient=reported_recipient(message),
        scts=message.received_at,
        discharge_time=at,
        status=int(status),
    )
    return encode_tpdu(report)


def report_message(
    stored: StoredMessage, status: TpStatus, at: datetime, validity: timedelta
) -> NewMessage:
    """The SMS-STATUS-REPORT as a message to the reported submit's originator."""
    message = stored.message
    recipient = reported_recipient(message)
    return NewMessage(
        submission_id=f"report-{stored.id}",
        origin=MessageOrigin.STATUS_REPORT,
        originator=recipient.value,
        originator_ton=int(recipient.ton),
        recipient=message.originator,
        submit_tpdu=status_report_tpdu(message, status, at),
        received_at=at,
        expires_at=at + validity,
        tp_mr=message.tp_mr,
    )


def submission_outcome(states: Sequence[MessageState]) -> MessageState | None:
    """The final state of a submission once every segment is final: the worst one; else None."""
    if not all(state.is_final for state in states):
        return None
    for state in (MessageState.FAILED, MessageState.EXPIRED, MessageState.CANCELLED):
        if state in states:
            return state
    return MessageState.DELIVERED


REPORT_CONTENT_TYPE = "application/json"


def report_cause(parts: Sequence[StoredMessage], state: MessageState) -> dict[str, Any] | None:
    """Why a submission did not arrive: the RP-Cause or SIP status of its first failed
    segment, or its expiry; None when it was delivered."""
    if state is MessageState.DELIVERED:
        return None
    if state is MessageState.EXPIRED:
        return {"reason": "expired", "rp_cause": None, "sip_status": None}
    failed = first_failed(parts)
    rp_cause = None if failed is None else failed.last_rp_cause
    sip_status = None if failed is None else failed.last_sip_status
    reason = "rp-error" if rp_cause is not None else "sip-error" if sip_status else "failed"
    return {"reason": reason, "rp_cause": rp_cause, "sip_status": sip_status}


def delivery_report(
    parts: Sequence[StoredMessage], state: MessageState, at: datetime
) -> dict[str, Any]:
    """The JSON of an API submission's delivery report: id, client_ref, from, to, the final
    state and its cause, segments delivered of the total, submit and done times."""
    first = parts[0].message
    international = first.originator_ton == TypeOfNumber.INTERNATIONAL
    return {
        "id": first.submission_id,
        "client_ref": first.client_ref,
        "from": "+" + first.originator if international else first.originator,
        "to": "+" + first.recipient,
        "state": str(state),
        "cause": report_cause(parts, state),
        "segments": {
            "delivered": sum(1 for part in parts if part.state is MessageState.DELIVERED),
            "total": first.segments,
        },
        "submitted_at": first.received_at.isoformat(),
        "done_at": at.isoformat(),
        "at": at.isoformat(),
    }


def report_job(
    parts: Sequence[StoredMessage], state: MessageState, at: datetime, url: str, keep: timedelta
) -> NewOutboxJob:
    """The outbox job of a delivery report: one per submission (its dedupe key), kept until
    delivered or `keep` has passed."""
    first = parts[0].message
    body = json.dumps(delivery_report(parts, state, at), separators=(",", ":")).encode()
    return NewOutboxJob(
        kind=OutboxKind.DELIVERY_REPORT,
        target="callback" if first.callback_url is not None else "webhook",
        url=url,
        body=body,
        content_type=REPORT_CONTENT_TYPE,
        created_at=at,
        expires_at=at + keep,
        dedupe_key=f"report:{first.submission_id}",
        reference=first.submission_id,
    )


class StatusReporter:
    """Turns final outcomes of messages that asked for it into status reports: an
    SMS-STATUS-REPORT for an MO with TP-SRR, a delivery report in the outbox for an API
    submission with a callback_url (or status_report and delivery.status_report_webhook), an
    SMPP delivery receipt in the outbox for an ESME's submission with registered_delivery."""

    def __init__(
        self,
        store: MessageStore,
        metrics: Metrics,
        *,
        on_stored: Callable[[str], None],
        webhook: str | None = None,
        validity: timedelta = timedelta(days=1),
        outbox: OutboxSubmitter | None = None,
        receipt_keep: timedelta = timedelta(hours=72),
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.on_stored = on_stored
        self.webhook = webhook
        self.validity = validity
        """Validity of SMS-STATUS-REPORTs, and how long a delivery report is retried."""
        self.outbox = outbox
        self.receipt_keep = receipt_keep
        """How long an SMPP receipt waits for its ESME to bind as a receiver and take it."""

    async def final(
        self,
        stored: StoredMessage,
        state: MessageState,
        at: datetime,
        rp_cause: int | None = None,
        sip_status: int | None = None,
    ) -> None:
        """The message reached `state` (final and recorded) at `at`."""
        message = stored.message
        if not message.status_report:
            return
        if message.origin is MessageOrigin.MO:
            await self._report_by_sms(stored, tp_status(state, rp_cause, sip_status), at)
        elif message.origin is MessageOrigin.API:
            url = message.callback_url or self.webhook
            if url is not None and self.outbox is not None:
                await self._report_by_callback(
                    stored, state, at, url, rp_cause=rp_cause, sip_status=sip_status
                )
        elif message.origin is MessageOrigin.SMPP and self.outbox is not None:
            await self._report_by_receipt(
                stored, state, at, rp_cause=rp_cause, sip_status=sip_status
            )

    async def _report_by_sms(self, stored: StoredMessage, status: TpStatus, at: datetime) -> None:
        """Store the SMS-STATUS-REPORT for the originator and wake the delivery loop."""
        if stored.message.originator_ton == TypeOfNumber.ALPHANUMERIC:
            return  # nobody to deliver it to
        report = report_message(stored, status, at, self.validity)
        try:
            await self.store.add(report)
        except Exception:
            log.exception("status report for message %s not stored", stored.id)
            self.metrics.status_reports.labels("sms", "store-failed").inc()
            return
        self.metrics.status_reports.labels("sms", "stored").inc()
        self.on_stored(report.recipient)

    async def _report_by_callback(
        self,
        stored: StoredMessage,
        state: MessageState,
        at: datetime,
        url: str,
        *,
        rp_cause: int | None,
        sip_status: int | None,
    ) -> None:
        """One report per submission, once all its segments are final: into the outbox
        (durable, retried until a 2xx, across restarts); a second segment's or instance's
        report of the same submission is the same job (its dedupe key)."""
        message = stored.message
        final = await self._final_parts(stored, state, at, rp_cause, sip_status)
        if final is None:
            return
        parts, state = final
        job = report_job(parts, state, at, url, self.validity)
        await self._keep(job, "callback", f"delivery report of {message.submission_id}")

    async def _report_by_receipt(
        self,
        stored: StoredMessage,
        state: MessageState,
        at: datetime,
        *,
        rp_cause: int | None,
        sip_status: int | None,
    ) -> None:
        """One SMPP delivery receipt per submission, once all its segments are final, into
        the outbox for the ESME named by the message's source ("smpp:SYSTEM_ID", none for a
        delivered one when it ends in ":failure"); the SMPP sender delivers it to that ESME's
        receiver sessions (durable, across restarts)."""
        message = stored.message
        account = smpp_account(message.source)
        if account is None:
            log.error(
                "SMPP receipt of %s not kept: source %r names no ESME",
                message.submission_id,
                message.source,
            )
            self.metrics.status_reports.labels("smpp", "store-failed").inc()
            return
        system_id, failure_only = account
        final = await self._final_parts(stored, state, at, rp_cause, sip_status)
        if final is None:
            return
        parts, state = final
        if failure_only and state is MessageState.DELIVERED:
            return
        job = receipt_job(parts, state, at, system_id, self.receipt_keep)
        await self._keep(job, "smpp", f"SMPP receipt of {message.submission_id}")

    async def _keep(self, job: NewOutboxJob, channel: str, what: str) -> None:
        """Into the outbox, counted by channel (queued or store-failed)."""
        assert self.outbox is not None
        try:
            await self.outbox.submit(job)
        except Exception:  # the store's failure, whatever its driver raises: logged, counted
            log.exception("%s not kept", what)
            self.metrics.status_reports.labels(channel, "store-failed").inc()
            return
        self.metrics.status_reports.labels(channel, "queued").inc()

    async def _final_parts(
        self,
        stored: StoredMessage,
        state: MessageState,
        at: datetime,
        rp_cause: int | None,
        sip_status: int | None,
    ) -> tuple[list[StoredMessage], MessageState] | None:
        """The submission's segments and its final state once every segment is final (a
        single SMS: the message with the outcome just recorded); None while one is not."""
        message = stored.message
        if message.segments <= 1:
            return [_with_outcome(stored, state, at, rp_cause, sip_status)], state
        parts = await self.store.get_submission(message.submission_id)
        outcome = submission_outcome([part.state for part in parts])
        if outcome is None:
            return None
        return parts, outcome


def _with_outcome(
    stored: StoredMessage,
    state: MessageState,
    at: datetime,
    rp_cause: int | None,
    sip_status: int | None,
) -> StoredMessage:
    """The message as recorded with its final outcome (the caller's copy predates it)."""
    return replace(
        stored,
        state=state,
        last_rp_cause=rp_cause,
        last_sip_status=sip_status,
        delivered_at=at if state is MessageState.DELIVERED else None,
    )
