"""Status reports of final MT outcomes (TS 23.040 §9.2.2.3).

An MO SMS-SUBMIT with TP-SRR gets an SMS-STATUS-REPORT, stored as a new message to the
originator and delivered like any MT (its TPDU is sent as-is). An API submission with
`status_report: true` gets a webhook POST instead, when one is configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from smsc.api.metrics import Metrics
from smsc.service.model import MessageOrigin, MessageState, NewMessage, StoredMessage
from smsc.service.ports import MessageStore
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
    for state in (MessageState.FAILED, MessageState.EXPIRED):
        if state in states:
            return state
    return MessageState.DELIVERED


def webhook_payload(message: NewMessage, state: MessageState, at: datetime) -> dict[str, Any]:
    """The JSON body POSTed for an API submission: {id, state, to, at}."""
    return {
        "id": message.submission_id,
        "state": str(state),
        "to": "+" + message.recipient,
        "at": at.isoformat(),
    }


class StatusReporter:
    """Turns final outcomes of messages that asked for it into status reports."""

    def __init__(
        self,
        store: MessageStore,
        metrics: Metrics,
        *,
        on_stored: Callable[[str], None],
        webhook: str | None = None,
        validity: timedelta = timedelta(days=1),
        webhook_delays: Sequence[float] = (1.0, 5.0, 30.0),
        webhook_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.on_stored = on_stored
        self.webhook = webhook
        self.validity = validity
        self.webhook_delays = tuple(webhook_delays)
        """Waits before the 2nd, 3rd, ... POST of a callback that failed."""
        self.webhook_timeout = webhook_timeout
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._notified: OrderedDict[str, None] = OrderedDict()

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
        elif message.origin is MessageOrigin.API and self.webhook is not None:
            await self._report_by_webhook(stored, state, at)

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

    async def _report_by_webhook(
        self, stored: StoredMessage, state: MessageState, at: datetime
    ) -> None:
        """One POST per submission, once all its segments are final."""
        message = stored.message
        if message.segments > 1:
            parts = await self.store.get_submission(message.submission_id)
            outcome = submission_outcome([part.state for part in parts])
            if outcome is None:
                return
            state = outcome
        if message.submission_id in self._notified:
            return  # another segment's outcome already sent it
        self._notified[message.submission_id] = None
        while len(self._notified) > 10_000:
            self._notified.popitem(last=False)
        task = asyncio.get_running_loop().create_task(
            self._post(webhook_payload(message, state, at))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        """POST the callback until a 2xx, waiting `webhook_delays` between tries; log failure."""
        assert self.webhook is not None
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        problem = ""
        for wait in (0.0, *self.webhook_delays):
            if wait:
                await asyncio.sleep(wait)
            try:
                async with self._session.post(self.webhook, json=payload) as response:
                    if 200 <= response.status < 300:
                        self.metrics.status_reports.labels("webhook", "sent").inc()
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
        log.warning("status report webhook for %s failed: %s", payload["id"], problem)
        self.metrics.status_reports.labels("webhook", "failed").inc()

    async def close(self) -> None:
        """Give callbacks in flight one timeout to finish (later retries are dropped), close."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.webhook_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
