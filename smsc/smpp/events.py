"""What the SMPP session tells the application (smsc.smpp.session), one frozen value each."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.smpp.pdu import (
    AlertNotification,
    Bind,
    CancelSm,
    DataSm,
    DeliverSm,
    EnquireLink,
    QuerySm,
    ReplaceSm,
    Response,
    SubmitMulti,
    SubmitSm,
)

InboundRequest = SubmitSm | SubmitMulti | DataSm | QuerySm | CancelSm | ReplaceSm
"""SMPP 3.4 §2.3: what an ESME bound as transmitter or transceiver asks of the SMSC and the
application answers (``SmppSession.respond``)."""
OutboundRequest = DeliverSm | DataSm | EnquireLink
"""SMPP 3.4 §2.3: what the SMSC sends and the ESME answers (``SmppSession.send_request``)."""
Sendable = OutboundRequest | AlertNotification
"""What ``send_request`` takes: the requests above and alert_notification (§4.12, no answer)."""


@dataclass(frozen=True, slots=True)
class BindRequested:
    """SMPP 3.4 §4.1: the ESME asks to bind; answer with accept_bind or reject_bind."""

    pdu: Bind


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A submit_sm, submit_multi, data_sm, query_sm, cancel_sm or replace_sm to answer with
    respond(); it holds a slot of the inbound window until then."""

    pdu: InboundRequest


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The ESME answered one of our requests: its ``*_resp`` or a generic_nack (§4.3)."""

    request: OutboundRequest
    response: Response


@dataclass(frozen=True, slots=True)
class ResponseTimeout:
    """SMPP 3.4 §7.2 response_timer: no answer to ``request`` in time; it left the window (a
    late answer is dropped) and may be sent again, here or on another bind."""

    request: OutboundRequest


@dataclass(frozen=True, slots=True)
class UnbindReceived:
    """SMPP 3.4 §4.2: the ESME unbinds. New requests are refused; the unbind_resp goes once
    every request it sent is answered (or response_timer runs out), then the session closes."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """The session itself answered a PDU with an error (a malformed or unknown PDU, the wrong
    bind state, a full window), for logs and counters; ``command_status`` is what it sent."""

    command_id: int
    sequence_number: int
    command_status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Closed:
    """The session ended: write what data_to_send() still holds, then close the connection.
    ``unanswered``: our requests that got no answer (to send again elsewhere)."""

    reason: str
    unanswered: tuple[OutboundRequest, ...]


Event = (
    BindRequested
    | RequestReceived
    | ResponseReceived
    | ResponseTimeout
    | UnbindReceived
    | Rejected
    | Closed
)
