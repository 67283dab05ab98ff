"""What the SIP endpoint reports to the application and hands to the transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from smsc.sip.constants import Address, Transport
from smsc.sip.message import SipRequest, SipResponse
from smsc.sip.scan import ScannedMessage
from smsc.sip.transaction import ClientTransactionKey, ServerTransactionKey


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """RFC 3261 §17.2.2: a new request (never a retransmission); answer with send_response."""

    request: SipRequest
    source: Address
    transport: Transport
    connection_id: int | None
    key: ServerTransactionKey

    @property
    def call_id(self) -> str:
        """The request's Call-ID."""
        return self.request.call_id


class MessageReceived(NamedTuple):
    """RFC 3261 §17.2.2: a new MESSAGE over UDP read by the parser's fast case (sip/scan.py);
    answer with send_response. A NamedTuple, as ResponseReceived: one is made per MO, and a
    frozen dataclass costs twice as much to build."""

    message: ScannedMessage
    source: Address
    transport: Transport
    key: ServerTransactionKey

    @property
    def call_id(self) -> str:
        """The request's Call-ID."""
        return self.message.call_id


IncomingRequest = RequestReceived | MessageReceived


class ResponseReceived(NamedTuple):
    """RFC 3261 §17.1.2.2: a response passed to the TU by its client transaction."""

    status: int
    key: ClientTransactionKey
    context: object
    response: SipResponse | None = None
    """The whole response when the general parser read it; None from the fast case."""


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """RFC 3261 §17.1.2.2 Timer F: no final response; the TU treats it as 408."""

    key: ClientTransactionKey
    context: object


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """RFC 3261 §17.1.4: the request could not be sent; the TU treats it as 503."""

    key: ClientTransactionKey
    context: object
    reason: str


Event = RequestReceived | MessageReceived | ResponseReceived | TransactionTimedOut | TransportFailed


class Outgoing(NamedTuple):
    """Bytes for a transport: over ``connection_id`` if set, else to ``destination``."""

    data: bytes
    destination: Address
    transport: Transport
    connection_id: int | None = None
    key: ClientTransactionKey | None = None
    """The client transaction to blame via SipEndpoint.transport_error if sending fails."""
    close: bool = False
    """Close the connection after writing (its framing is lost)."""
