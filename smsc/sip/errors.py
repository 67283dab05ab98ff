"""Typed errors of the SIP layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsc.errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from smsc.sip.message import SipMessage


class SipParseError(RemoteProtocolError):
    """Malformed SIP input; ``sip_status`` and ``reason`` are the answer (RFC 3261 §21.4)."""

    sip_status: int

    def __init__(
        self,
        reason: str,
        sip_status: int = 400,
        *,
        partial: SipMessage | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(reason, sip_status=sip_status)
        self.sip_status = sip_status
        self.reason = reason
        self.partial = partial
        """What could be read (start line and headers), enough to build the error response."""
        self.fatal = fatal
        """The stream lost its framing: answer if possible, then close the connection."""


class SipBuildError(LocalProtocolError):
    """We tried to send an illegal message or to answer outside the transaction's rules."""
