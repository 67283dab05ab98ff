"""The SIP face of the SMSC: who may talk to us, which requests we take, where bodies go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache

from smsc import redact
from smsc.api.metrics import Metrics
from smsc.redact import subscriber
from smsc.routing.numbering import DiallingPlan
from smsc.service.bodies import sms_body
from smsc.service.identity import DEFAULT_PLAN, msisdn_of
from smsc.service.mo import MO_ANSWER, MoService
from smsc.service.mt import MtContext, MtService
from smsc.service.ports import SipSender
from smsc.service.register_body import UeRegistration, ue_registration
from smsc.service.shared_state import RegistrationStore
from smsc.sip.errors import SipParseError
from smsc.sip.events import (
    Event,
    IncomingRequest,
    MessageReceived,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from smsc.sip.headers import parse_uri
from smsc.sip.message import reason_phrase
from smsc.sip.trust import TrustedPeers
from smsc.sms.constants import RpCause, RpMessageType
from smsc.sms.errors import DecodeError
from smsc.sms.rp import RpAck, RpError, decode_rp

log = logging.getLogger("smsc.sip")

ALLOW = "MESSAGE, REGISTER, OPTIONS"
_ANSWERS_TO_MT = (RpMessageType.RP_ACK_MS_TO_N, RpMessageType.RP_ERROR_MS_TO_N)
_MO = (RpMessageType.RP_DATA_MS_TO_N, RpMessageType.RP_SMMA_MS_TO_N)


@lru_cache(maxsize=4096)  # a few S-CSCF-asserted identities send most MO: parse each once
def usable_request_uri(uri: str) -> bool:
    """Whether `uri` can stand as the Request-URI of the MESSAGE that answers (RFC 3261 §25.1:
    no whitespace or control characters, a URI we parse)."""
    if not uri.isprintable() or any(c.isspace() for c in uri):
        return False
    try:
        parse_uri(uri)
    except SipParseError:
        return False
    return True


@lru_cache(maxsize=64)
def _refusal(status: int) -> str:
    """The WARNING template of a refusal, one per status: a flood of one (503 under overload)
    is folded apart from the others (a 403 still shows)."""
    return f"SIP request from %s:%s refused: {status} %s"


class SipFront:
    """Handles every SIP endpoint event (called synchronously by the transport)."""

    def __init__(
        self,
        *,
        sender: SipSender,
        mo: MoService,
        mt: MtService,
        registrations: RegistrationStore,
        trusted_peers: Sequence[str],
        metrics: Metrics,
        clock: Callable[[], float],
        max_mo_in_flight: int = 5000,
        retry_after_s: int = 1,
        queue_full: Callable[[], bool] = lambda: False,
        plan: DiallingPlan = DEFAULT_PLAN,
    ) -> None:
        self.sender = sender
        self.max_mo_in_flight = max_mo_in_flight
        """Above this many MO awaiting their RP answer, new MO get 503 (emergency excepted)."""
        self.retry_after = (("Retry-After", str(retry_after_s)),)
        self.plan = plan
        """How asserted identities and registered numbers are read (routing.numbering)."""
        self.queue_full = queue_full
        """True while more waits in the UDP receive queue than the process should hold: it
        cannot keep up, and what it cannot take is better refused at once than timed out."""
        self.mo = mo
        self.mt = mt
        self.registrations = registrations
        self._tasks: set[asyncio.Task[None]] = set()
        self.is_trusted = TrustedPeers(trusted_peers)
        self.metrics = metrics
        self.clock = clock

    def on_event(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            self._scanned_message(event)
        elif isinstance(event, RequestReceived):
            self._request(event)
        elif isinstance(event, ResponseReceived):
            self._status(event.status, event.context)
        elif isinstance(event, TransactionTimedOut):
            if isinstance(event.context, MtContext):
                self.mt.on_sip_final(event.context, 408)
            elif event.context == MO_ANSWER:
                self._answer_lost("no response (Timer F)")
        elif isinstance(event, TransportFailed):
            if isinstance(event.context, MtContext):
                self.mt.on_sip_final(event.context, 503)
            elif event.context == MO_ANSWER:
                self._answer_lost(event.reason)

    def _answer_lost(self, reason: str) -> None:
        """The MESSAGE with an MO's RP answer did not get through: counted and said."""
        self.metrics.mo_answers_lost.inc()
        log.warning("the RP answer to an MO could not be delivered: %s", reason)

    def _status(self, status: int, context: object) -> None:
        self.metrics.tally(self.metrics.sip_responses, str(status), "received")
        if status >= 200 and isinstance(context, MtContext):
            self.mt.on_sip_final(context, status)

    def _respond(
        self,
        event: IncomingRequest,
        status: int,
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        *,
        warn: bool = True,
    ) -> None:
        self.metrics.tally(self.metrics.sip_responses, str(status), "sent")
        self.sender.respond(event, status, reason, headers)
        if status >= 400 and warn:
            log.warning(_refusal(status), *event.source[:2], reason or reason_phrase(status))

    def _request(self, event: RequestReceived) -> None:
        if not self.is_trusted(event.source[0]):
            self._respond(event, 403, "Forbidden: untrusted source")
            return
        method = event.request.method
        if method == "MESSAGE":
            self._message(event)
        elif method == "REGISTER":
            self._register(event)
        elif method == "OPTIONS":
            self._respond(
                event, 200, None, (("Allow", ALLOW), ("Accept", "application/vnd.3gpp.sms"))
            )
        else:
            self._respond(event, 405, None, (("Allow", ALLOW),))

    def _message(self, event: RequestReceived) -> None:
        request = event.request
        try:  # everything the MO path reads later, checked before the 202
            content_type = request.content_type
            asserted = request.p_asserted_identity
            _ = (request.call_id, request.cseq, request.from_, request.to)
        except SipParseError as exc:
            self._respond(event, 400, f"Bad Request: {exc}")
            return
        body = sms_body(content_type, request.body)
        if body is None:
            self._respond(
                event,
                415,
                None,
                (("Accept", "application/vnd.3gpp.sms, multipart/mixed"),),
            )
            return
        identity = msisdn = None
        for name_addr in asserted:
            msisdn = msisdn_of(name_addr.uri.raw, self.plan)
            if msisdn is not None:
                identity = name_addr.uri.raw
                break
        self._sms(event, identity, msisdn, body, request.header("P-Access-Network-Info"))

    def _scanned_message(self, event: MessageReceived) -> None:
        """A MESSAGE read by the parser's fast case: one vnd.3gpp.sms body, the PAI URIs
        listed."""
        if not self.is_trusted(event.source[0]):
            self._respond(event, 403, "Forbidden: untrusted source")
            return
        message = event.message
        identity = msisdn = None
        for uri in message.asserted:
            msisdn = msisdn_of(uri, self.plan)
            if msisdn is not None:
                identity = uri
                break
        self._sms(event, identity, msisdn, message.body, message.access_network_info)

    def _sms(
        self,
        event: IncomingRequest,
        identity: str | None,
        msisdn: str | None,
        body: bytes,
        pani: str | None,
    ) -> None:
        """An application/vnd.3gpp.sms body from the UE with this P-Asserted-Identity."""
        if identity is None or msisdn is None:
            self._respond(event, 403, "Forbidden: no MSISDN in P-Asserted-Identity")
            return
        if not usable_request_uri(identity):  # the RP answer goes to it as a Request-URI
            self._respond(event, 400, "Bad Request: unusable P-Asserted-Identity")
            return
        try:
            message = decode_rp(body)
        except DecodeError as exc:
            self.metrics.mo_received.labels("malformed").inc()
            self._respond(event, 202)
            self.mo.decode_failed(event, identity, body, exc)
            return
        kind = message.message_type
        if kind in _ANSWERS_TO_MT:
            assert isinstance(message, RpAck | RpError)
            self.metrics.mo_received.labels(kind.name).inc()
            self._respond(event, 200)
            cause = message.cause if isinstance(message, RpError) else None
            if not self.mt.on_rp_answer(msisdn, message.message_reference, cause):
                log.info(
                    "RP answer from %s with RP-MR %s matches no MT",
                    subscriber("+" + msisdn),
                    message.message_reference,
                )
            return
        if (
            kind in _MO
            and (self.mo.in_flight() >= self.max_mo_in_flight or self.queue_full())
            and not self.mo.to_emergency(message)
        ):  # RFC 3261 §21.5.4: overloaded, try again later (retransmissions stay absorbed)
            self.metrics.shed.labels("mo").inc()
            self._respond(  # counted, in the summary line: a WARNING each costs ~6 µs
                event, 503, "Service Unavailable: overloaded", self.retry_after, warn=False
            )
            return
        self._respond(event, 202)
        self.metrics.tally(self.metrics.mo_received, kind.name)
        if kind in _MO:
            self.mo.dispatch(event, identity, msisdn, message, pani)
        else:
            self.mo.reject(
                event, identity, message.message_reference, RpCause.MESSAGE_TYPE_NON_EXISTENT
            )

    def _register(self, event: RequestReceived) -> None:
        """Third-party REGISTER: To = IMPU, Contact = S-CSCF, Expires (TS 24.229 §5.7.1.2)."""
        request = event.request
        try:
            to = request.to
            contacts = request.contact
            expires = request.expires
        except SipParseError as exc:
            self._respond(event, 400, f"Bad Request: {exc}")
            return
        msisdn = msisdn_of(to.uri.raw, self.plan)
        if msisdn is None:
            self._respond(event, 404, "Not Found: no MSISDN in To")
            return
        contact = contacts[0] if contacts else None
        if expires is None and contact is not None:
            value = contact.params.get("expires")
            expires = int(value) if value and value.isdigit() else None
        if expires is None:
            expires = 3600
        if contact is None and expires > 0:
            self._respond(event, 400, "Bad Request: REGISTER without Contact")
            return
        try:
            content_type = request.content_type
        except SipParseError:
            content_type = None
        ue = ue_registration(content_type, request.body)
        task = asyncio.get_running_loop().create_task(
            self._store_registration(
                event, msisdn, None if contact is None else contact.uri.raw, expires, ue
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store_registration(
        self,
        event: RequestReceived,
        msisdn: str,
        contact: str | None,
        expires: int,
        ue: UeRegistration | None,
    ) -> None:
        """Keep the registration (shared through Redis when configured), then answer."""
        try:
            granted = await self.registrations.register(
                msisdn,
                contact or "",
                expires,
                self.clock(),
                sms_over_ip=None if ue is None else ue.sms_over_ip,
                access_network_info=None if ue is None else ue.access_network_info,
            )
        except Exception:
            log.exception("could not store the registration of %s", subscriber("+" + msisdn))
            self._respond(event, 500, "Server Internal Error: registration store unavailable")
            return
        headers: list[tuple[str, str]] = [("Expires", str(granted))]
        if contact is not None and granted:
            headers.append(("Contact", f"<{contact}>;expires={granted}"))
        self._respond(event, 200, None, headers)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "registration of %s via %s for %d s",
                subscriber("+" + msisdn),
                redact.uri(contact),
                granted,
            )
        if granted:  # a new registration: whatever waits for this subscriber is due now
            self.mt.release_soon(msisdn)
