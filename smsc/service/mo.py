"""Mobile-originated SMS over IP (TS 24.341 §5.3.2.4): decode, store, answer RP-ACK / RP-ERROR."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, runtime_checkable

from aml.emergency import EmergencyNumbers
from charging.pani import RoamingVerdict, Trust, roaming_verdict
from smsc.api.metrics import Metrics
from smsc.redact import sms_text, subscriber
from smsc.routing.applications import ApplicationTable
from smsc.routing.numbering import DiallingPlan, Number, NumberKind, NumberRefused, normalise
from smsc.service.applications import application_job
from smsc.service.charging_gate import ChargingGate
from smsc.service.emergency import EmergencyService
from smsc.service.model import DEFAULT_VALIDITY, DuplicateKey, MessageOrigin, NewMessage
from smsc.service.ports import MessageStore, OutboxSubmitter, SipSender
from smsc.service.shared_state import DuplicateFilter, duplicate_key
from smsc.service.sip_requests import answer_to_mo_headers
from smsc.settings import ApplicationRoute, NumberingSettings
from smsc.sip.constants import Address, Transport
from smsc.sip.events import IncomingRequest, RequestReceived
from smsc.sms.constants import RpCause, TpFailureCause, TypeOfNumber
from smsc.sms.errors import DecodeError
from smsc.sms.rp import RpData, RpMessage
from smsc.sms.sc_pdus import bare_ack, submit_ack, submit_error
from smsc.sms.tp import SmsCommand, SmsSubmit, decode_tpdu
from smsc.sms.validity import MAX_RELATIVE_VALIDITY
from smsc.store.errors import DuplicateMessageError

log = logging.getLogger("smsc.mo")


MO_ANSWER = ("mo-answer", None)
"""The context of the MESSAGE carrying an MO's RP answer (its failures are counted)."""


def _sent_by(event: IncomingRequest) -> Address | None:
    """The listening address the S-CSCF named in its top Via (RFC 3261 §18.2.2), over TCP."""
    if event.transport is not Transport.TCP or not isinstance(event, RequestReceived):
        return None
    host, port = event.request.via.sent_by
    return None if not host else (event.source[0], port)


def _log_stored(stored: NewMessage, message_id: int) -> None:
    """DEBUG: one line per MO committed and acknowledged (the MO's submission id carries the
    sender's number, so the store's message id names it)."""
    log.debug(
        "MO message %d from %s to %s stored and acknowledged (RP-MR %s, segment %d/%d): %s",
        message_id,
        subscriber("+" + stored.originator),
        subscriber("+" + stored.recipient),
        stored.rp_mr,
        stored.segment,
        stored.segments,
        sms_text(stored.text),
    )


@runtime_checkable
class AddsWithoutTask(Protocol):
    """A MessageStore that can also hand back a future for `add` (no coroutine, no Task)."""

    def add_soon(self, message: NewMessage) -> asyncio.Future[int]:
        """Queue the message; the future gets its id once it is committed."""


@dataclass(frozen=True, slots=True)
class _Mo:
    """One decoded MO SMS-SUBMIT on its way to the store (or a PSAP)."""

    event: IncomingRequest
    ue_identity: str
    stored: NewMessage
    submit: SmsSubmit
    pani: str | None
    verdict: RoamingVerdict
    now: datetime
    application: ApplicationRoute | None = None
    """Where the MO goes instead of a handset (routing.applications)."""
    short_code: bool = False
    """The recipient is a short code of the dialling plan, not an E.164 number."""
    emergency: bool = False
    """The TP-DA, as dialled, is an emergency number of the serving country."""


@runtime_checkable
class SeesWithoutWaiting(Protocol):
    """A DuplicateFilter that answers at once (the in-process one): no Task per MO."""

    def seen_now(self, key: str, window_s: float) -> bool:
        """`DuplicateFilter.seen` without a coroutine."""


class MoService:
    """Turns an MO RP message into a stored short message and the answer the UE is owed."""

    def __init__(
        self,
        *,
        store: MessageStore,
        sender: SipSender,
        psi: str,
        new_call_id: Callable[[], str],
        new_tag: Callable[[], str],
        metrics: Metrics,
        on_stored: Callable[[str], None],
        gate: ChargingGate | None = None,
        emergency: EmergencyNumbers | None = None,
        psaps: EmergencyService | None = None,
        duplicates: DuplicateFilter | None = None,
        duplicate_window_s: float = 60.0,
        on_memory_available: Callable[[str], None] | None = None,
        home_plmns: Sequence[str] = (),
        pani_trust: Trust = "network-provided",
        plan: DiallingPlan | None = None,
        applications: ApplicationTable | None = None,
        outbox: OutboxSubmitter | None = None,
    ) -> None:
        self.plan = plan or DiallingPlan.of(NumberingSettings())
        self.applications = applications if applications is not None else ApplicationTable(())
        self.outbox = outbox
        self.gate = gate
        self.emergency = emergency
        self.psaps = psaps
        self.duplicates = duplicates
        self.duplicate_window_s = duplicate_window_s
        self._seen_now: Callable[[str, float], bool] | None = (
            duplicates.seen_now if isinstance(duplicates, SeesWithoutWaiting) else None
        )
        self.on_memory_available = on_memory_available
        self.home_plmns = tuple(home_plmns)
        self.home_mcc = self.home_plmns[0][:3] if self.home_plmns else None
        self.pani_trust: Trust = pani_trust
        self._verdicts: dict[str | None, RoamingVerdict] = {}
        self._ack_template: tuple[datetime, bytes, bytes] | None = None
        self.store = store
        self.sender = sender
        self.psi = psi
        self.new_call_id = new_call_id
        self.new_tag = new_tag
        self.metrics = metrics
        self.on_stored = on_stored
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stores: set[asyncio.Future[int]] = set()
        self._add_soon = store.add_soon if isinstance(store, AddsWithoutTask) else None

    def _verdict(self, pani: str | None) -> RoamingVerdict:
        """The roaming verdict of a PANI value; cells repeat, so verdicts are cached."""
        verdict = self._verdicts.get(pani)
        if verdict is None:
            verdict = roaming_verdict(pani, self.home_plmns, trust=self.pani_trust)
            if len(self._verdicts) >= 4096:
                self._verdicts.clear()
            self._verdicts[pani] = verdict
        return verdict

    def _submit_ack(self, rp_mr: int, now: datetime) -> bytes:
        """RP-ACK + SMS-SUBMIT-REPORT; the report only changes with the second of TP-SCTS."""
        second = now.replace(microsecond=0)
        cached = self._ack_template
        if cached is None or cached[0] != second:
            body = submit_ack(0, second)
            cached = self._ack_template = (second, body[:1], body[2:])
        return cached[1] + bytes((rp_mr,)) + cached[2]

    def answer(self, event: IncomingRequest, ue_identity: str, body: bytes) -> None:
        """Send the RP answer in a new MESSAGE to where the MO came from (the S-CSCF)."""
        headers = answer_to_mo_headers(
            self.psi, ue_identity, event.call_id, call_id=self.new_call_id(), tag=self.new_tag()
        )
        self.sender.message(
            ue_identity,
            headers,
            body,
            event.source,
            event.transport,
            context=MO_ANSWER,
            fallback=_sent_by(event),
        )

    def reject(
        self,
        event: IncomingRequest,
        ue_identity: str,
        rp_mr: int,
        cause: int,
        failure_cause: int | None = None,
    ) -> None:
        """RP-ERROR (TS 24.011 §7.3.4) with the codec's or the service's cause."""
        self.metrics.mo_rejected.labels(str(cause)).inc()
        log.warning(
            "MO from %s refused: RP-ERROR, RP-Cause %d, RP-MR %d",
            subscriber(ue_identity),
            cause,
            rp_mr,
        )
        body = submit_error(rp_mr, cause, datetime.now(UTC), failure_cause)
        self.answer(event, ue_identity, body)

    def decode_failed(
        self, event: IncomingRequest, ue_identity: str, body: bytes, error: DecodeError
    ) -> None:
        """A body the codec refused: RP-ERROR with its RP-Cause (RP-MR echoed when readable)."""
        rp_mr = body[1] if len(body) > 1 else 0
        self.reject(event, ue_identity, rp_mr, error.rp_cause, error.tp_fcs)

    def smma(self, event: IncomingRequest, ue_identity: str, msisdn: str, rp_mr: int) -> None:
        """TS 24.011 §7.3.2: memory available again; acknowledged, parked messages released."""
        self.answer(event, ue_identity, bare_ack(rp_mr))
        if self.on_memory_available is not None:
            self.on_memory_available(msisdn)

    def rp_data(
        self,
        event: IncomingRequest,
        ue_identity: str,
        msisdn: str,
        message: RpData,
        pani: str | None = None,
    ) -> None:
        """RP-DATA MS->N: an SMS-SUBMIT is charged (unless emergency), stored, acknowledged."""
        try:
            tpdu = decode_tpdu(message.user_data, message.message_type)
        except DecodeError as exc:
            self.reject(event, ue_identity, message.message_reference, exc.rp_cause, exc.tp_fcs)
            return
        if isinstance(tpdu, SmsCommand):
            self.reject(
                event,
                ue_identity,
                message.message_reference,
                RpCause.REQUESTED_FACILITY_NOT_IMPLEMENTED,
                TpFailureCause.COMMAND_UNSUPPORTED,
            )
            return
        assert isinstance(tpdu, SmsSubmit)
        verdict = self._verdict(pani)
        destination = tpdu.destination
        application: ApplicationRoute | None = None
        short_code = False
        emergency = not destination.is_alphanumeric and self._dials_emergency(
            destination.value, verdict
        )
        if emergency:
            recipient = destination.value  # recognised as dialled, before the dialling plan
        else:
            try:
                number = normalise(destination.value, destination.ton, destination.npi, self.plan)
            except NumberRefused as exc:
                self.reject(event, ue_identity, message.message_reference, exc.rp_cause, exc.tp_fcs)
                return
            application = self.applications.match(number)
            if application is None and number.kind is NumberKind.SHORT_CODE:
                self.metrics.mo_rejected_short_codes.inc()
                self.reject(
                    event,
                    ue_identity,
                    message.message_reference,
                    RpCause.UNASSIGNED_NUMBER,
                    TpFailureCause.INVALID_SME_ADDRESS,
                )
                return
            if application is not None and self.outbox is None:
                self.reject(
                    event, ue_identity, message.message_reference, RpCause.TEMPORARY_FAILURE
                )
                return
            recipient = number.digits
            short_code = number.kind is NumberKind.SHORT_CODE
        now = datetime.now(UTC)
        expires = now + DEFAULT_VALIDITY
        if tpdu.validity is not None:
            until = tpdu.validity.expires(now)
            if until is not None:
                expires = min(max(until, now), now + MAX_RELATIVE_VALIDITY)
        coding = tpdu.coding
        concat = None if tpdu.user_data.header is None else tpdu.user_data.header.concatenation
        self.metrics.tally(self.metrics.mo_roaming, verdict.status.value)
        visited = (
            None
            if verdict.visited_mcc is None
            else verdict.visited_mcc + (verdict.visited_mnc or "")
        )
        stored = NewMessage(
            submission_id=f"{msisdn}-{event.call_id}-{message.message_reference}",
            origin=MessageOrigin.MO,
            originator=msisdn,
            originator_ton=int(TypeOfNumber.INTERNATIONAL),
            recipient=recipient,
            submit_tpdu=message.user_data,
            received_at=now,
            expires_at=expires,
            segment=1 if concat is None else concat.sequence,
            segments=1 if concat is None else concat.total,
            text=tpdu.user_data.text if not coding.compressed else None,
            status_report=tpdu.status_report_request,
            rp_mr=message.message_reference,
            source=f"{event.transport.value.lower()}:{event.source[0]}:{event.source[1]}",
            call_id=event.call_id,
            tp_mr=tpdu.message_reference,
            roaming_status=verdict.status.value,
            visited_plmn=visited,
            duplicate=self._duplicate_of(msisdn, message.message_reference, message.user_data, now),
        )
        mo = _Mo(
            event, ue_identity, stored, tpdu, pani, verdict, now, application, short_code, emergency
        )
        if self.duplicates is not None:
            if self._seen_now is None:
                self._spawn(self._deduplicate(mo))
                return
            if stored.duplicate is not None and self._seen_now(
                stored.duplicate.key, self.duplicate_window_s
            ):
                self._seen_again(mo)
                return
        self._admit(mo)

    def _duplicate_of(
        self, msisdn: str, rp_mr: int, tpdu: bytes, now: datetime
    ) -> DuplicateKey | None:
        """The key the store keeps this MO under for the duplicate window (none if it is 0)."""
        window = self.duplicate_window_s
        if window <= 0:
            return None
        return DuplicateKey(duplicate_key(msisdn, rp_mr, tpdu), now + timedelta(seconds=window))

    def _seen_again(self, mo: _Mo) -> None:
        """The filter in front knows this SMS: it is not charged again. An emergency SMS is
        acknowledged again (its report is with the PSAP service); any other goes to the store,
        whose unique key answers: a duplicate is acknowledged again once the first copy is
        committed, and stored after all if that copy never was (it failed, or a filter shared
        with other instances knew it from a copy they could not store)."""
        if self._is_emergency(mo):
            self._duplicate_stored(mo.event, mo.ue_identity, mo.stored, mo.now)
            return
        self._store(mo.event, mo.ue_identity, mo.stored, mo.now, mo)

    @staticmethod
    def _is_emergency(mo: _Mo) -> bool:
        return mo.emergency

    def _dials_emergency(self, digits: str, verdict: RoamingVerdict) -> bool:
        return self.emergency is not None and self.emergency.is_emergency(
            digits, verdict.visited_mcc or self.home_mcc
        )

    async def _deduplicate(self, mo: _Mo) -> None:
        """The same SMS-SUBMIT again in a new transaction: acknowledged, stored only once."""
        event, ue_identity, stored = mo.event, mo.ue_identity, mo.stored
        assert self.duplicates is not None and stored.rp_mr is not None
        if stored.duplicate is None:
            self._admit(mo)
            return
        try:
            again = await self.duplicates.seen(stored.duplicate.key, self.duplicate_window_s)
        except Exception:
            log.exception("duplicate filter unavailable; answering RP-ERROR 41")
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        if again:
            self._seen_again(mo)
            return
        self._admit(mo)

    def _forget(self, stored: NewMessage) -> None:
        """Storing failed: a resend of this SMS must not be taken for a duplicate."""
        if self.duplicates is not None and stored.duplicate is not None:
            self._spawn(self.duplicates.forget(stored.duplicate.key))

    def _admit(self, mo: _Mo) -> None:
        """To a PSAP, through charging, or straight to the store."""
        event, ue_identity, stored, tpdu = mo.event, mo.ue_identity, mo.stored, mo.submit
        _pani, verdict, now = mo.pani, mo.verdict, mo.now
        message_reference = stored.rp_mr
        assert message_reference is not None
        emergency = self._is_emergency(mo)
        msisdn = stored.originator
        if emergency and self.psaps is not None:  # to a PSAP, never charged, never as MT
            loop = asyncio.get_running_loop()
            text = self.psaps.text_of(tpdu, msisdn, loop.time())
            if text is None:  # a segment of a longer emergency SMS: the rest will follow
                self.answer(event, ue_identity, self._submit_ack(message_reference, now))
                return
            mcc = verdict.visited_mcc or self.home_mcc
            self._spawn(self._emergency_then_ack(event, ue_identity, stored, text, mcc))
            return
        if self.gate is not None and not emergency:  # emergency SMS are never charged
            self._spawn(self._charge_store_ack(mo))
            return
        self._store(event, ue_identity, stored, now, mo)

    def _store(
        self,
        event: IncomingRequest,
        ue_identity: str,
        stored: NewMessage,
        now: datetime,
        mo: _Mo | None = None,
    ) -> None:
        """Into the store, then the RP answer: with a future settled by the group commit when
        the store has one (no Task per MO), else in a task. An MO to an application goes to
        the outbox instead."""
        assert stored.rp_mr is not None
        if mo is not None and mo.application is not None:
            self._spawn(self._hand_over(mo, mo.application))
            return
        add_soon = self._add_soon
        if add_soon is None:
            task = asyncio.get_running_loop().create_task(
                self._store_then_ack(event, ue_identity, stored, now)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        try:
            future = add_soon(stored)
        except Exception:
            log.exception("could not store an MO message; answering RP-ERROR 41")
            self._forget(stored)
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        self._stores.add(future)
        future.add_done_callback(partial(self._stored, event, ue_identity, stored, now))

    def _stored(
        self,
        event: IncomingRequest,
        ue_identity: str,
        stored: NewMessage,
        now: datetime,
        future: asyncio.Future[int],
    ) -> None:
        """The store settled an `add_soon`: RP-ACK once committed, RP-ERROR 41 if it failed."""
        self._stores.discard(future)
        if future.cancelled():
            return  # shutting down, as a cancelled `_store_then_ack`
        assert stored.rp_mr is not None
        error = future.exception()
        if isinstance(error, DuplicateMessageError):
            self._duplicate_stored(event, ue_identity, stored, now)
            return
        if error is not None:
            log.error(
                "could not store an MO message; answering RP-ERROR 41",
                exc_info=(type(error), error, error.__traceback__),
            )
            self._forget(stored)
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        self.answer(event, ue_identity, self._submit_ack(stored.rp_mr, now))
        self.on_stored(stored.recipient)
        if log.isEnabledFor(logging.DEBUG):
            _log_stored(stored, future.result())

    def _duplicate_stored(
        self, event: IncomingRequest, ue_identity: str, stored: NewMessage, now: datetime
    ) -> None:
        """The store (or, for an emergency SMS, the PSAP service) holds this SMS already: a UE
        re-sending it within the window, after any restart. RP-ACK again; kept once."""
        assert stored.rp_mr is not None
        self.metrics.mo_received.labels("DUPLICATE").inc()
        self.answer(event, ue_identity, self._submit_ack(stored.rp_mr, now))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, kept: asyncio.get_running_loop() costs a getpid() per call."""
        loop = self._loop
        if loop is None or not loop.is_running():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emergency_then_ack(
        self,
        event: IncomingRequest,
        ue_identity: str,
        stored: NewMessage,
        text: str,
        mcc: str | None,
    ) -> None:
        """The PSAP report is persisted before the RP-ACK; if it cannot be, RP-ERROR 41."""
        assert self.psaps is not None and stored.rp_mr is not None
        try:
            await self.psaps.accept(stored, text, mcc, stored.received_at)
        except Exception:
            log.exception("could not persist an emergency SMS; answering RP-ERROR 41")
            self._forget(stored)
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        self.answer(event, ue_identity, self._submit_ack(stored.rp_mr, stored.received_at))

    async def _charge_store_ack(self, mo: _Mo) -> None:
        """Charged before the RP-ACK; a rejected SMS is never stored (TS 32.274 §5.2)."""
        event, ue_identity, stored, now = mo.event, mo.ue_identity, mo.stored, mo.now
        assert self.gate is not None and stored.rp_mr is not None
        admission = await self.gate.admit(
            stored, mo.submit, ue_identity, mo.pani, short_code=mo.short_code
        )
        if not admission.store:
            assert admission.rp_cause is not None
            self._forget(stored)
            self.reject(
                event, ue_identity, stored.rp_mr, admission.rp_cause, admission.failure_cause
            )
            return
        record = admission.record
        if mo.application is not None:
            if record is not None:
                await self.gate.keep(record, stored)
            await self._hand_over(mo, mo.application)
            return
        if record is not None:  # kept in the message's own transaction
            stored = replace(stored, charging=record)
        self._store(event, ue_identity, stored, now)

    async def _hand_over(self, mo: _Mo, application: ApplicationRoute) -> None:
        """An MO to an application: kept in the outbox (with its duplicate key, in the same
        transaction), RP-ACK after the commit; the outbox POSTs it until a 2xx."""
        event, ue_identity, stored = mo.event, mo.ue_identity, mo.stored
        assert self.outbox is not None and stored.rp_mr is not None
        kind = NumberKind.SHORT_CODE if mo.short_code else NumberKind.E164
        job = application_job(application, stored, mo.submit, Number(stored.recipient, kind))
        try:
            await self.outbox.submit(job, stored.duplicate)
        except DuplicateMessageError:
            self._duplicate_stored(event, ue_identity, stored, mo.now)
            return
        except Exception:
            log.exception(
                "could not keep an MO for application %s; answering RP-ERROR 41", application.name
            )
            self._forget(stored)
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        self.metrics.mo_to_application.labels(application.name).inc()
        self.answer(event, ue_identity, self._submit_ack(stored.rp_mr, mo.now))

    async def _store_then_ack(
        self, event: IncomingRequest, ue_identity: str, stored: NewMessage, now: datetime
    ) -> None:
        assert stored.rp_mr is not None
        try:
            message_id = await self.store.add(stored)
        except DuplicateMessageError:
            self._duplicate_stored(event, ue_identity, stored, now)
            return
        except Exception:
            log.exception("could not store an MO message; answering RP-ERROR 41")
            self._forget(stored)
            self.reject(event, ue_identity, stored.rp_mr, RpCause.TEMPORARY_FAILURE)
            return
        self.answer(event, ue_identity, self._submit_ack(stored.rp_mr, now))
        self.on_stored(stored.recipient)
        if log.isEnabledFor(logging.DEBUG):
            _log_stored(stored, message_id)

    def in_flight(self) -> int:
        """MO accepted (202) whose RP answer has not left yet: stores and charges pending."""
        return len(self._stores) + len(self._tasks)

    def to_emergency(self, message: RpMessage) -> bool:
        """Whether an RP-DATA carries an SMS-SUBMIT to an emergency number (any country):
        such SMS are admitted even under overload."""
        if self.emergency is None or not isinstance(message, RpData) or not message.user_data:
            return False
        try:
            tpdu = decode_tpdu(message.user_data, message.message_type)
        except DecodeError:
            return False
        return isinstance(tpdu, SmsSubmit) and self.emergency.is_emergency(tpdu.destination.value)

    def dispatch(
        self,
        event: IncomingRequest,
        ue_identity: str,
        msisdn: str,
        message: RpMessage,
        pani: str | None = None,
    ) -> None:
        """Entry point for MS->N RP messages other than the UE's answers to MT."""
        if isinstance(message, RpData):
            self.rp_data(event, ue_identity, msisdn, message, pani)
        else:
            self.smma(event, ue_identity, msisdn, message.message_reference)

    async def drain(self) -> None:
        """Wait for stores in flight (shutdown)."""
        if self._tasks or self._stores:
            await asyncio.gather(*self._tasks, *self._stores, return_exceptions=True)
        await asyncio.sleep(0)  # let the done callbacks of the last stores answer
