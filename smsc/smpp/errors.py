"""Typed errors of the SMPP package (under smsc.errors.SmscError)."""

from __future__ import annotations

from smsc.errors import LocalProtocolError, RemoteProtocolError, SmscError


class SmppError(SmscError):
    """Root of every error raised by smsc.smpp."""


class PduError(SmppError, RemoteProtocolError):
    """SMPP 3.4 §3.2: the peer's PDU is malformed; carries what a server must answer.

    ``command_status`` is the status to answer with (§5.1.3). ``command_id`` and
    ``sequence_number`` are the PDU's own when its header could be read: the answer is then
    the request's ``*_resp`` with that status, or a generic_nack (§4.3) when the command is
    unknown or has no response.
    """

    def __init__(
        self,
        message: str,
        command_status: int,
        *,
        command_id: int | None = None,
        sequence_number: int | None = None,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.command_id = command_id
        self.sequence_number = sequence_number


class SmppEncodeError(SmppError, LocalProtocolError):
    """We were asked to encode something SMPP 3.4 cannot carry (a field too long, a NUL in a
    C-Octet String, a value out of range)."""


class SessionStateError(SmppError, LocalProtocolError):
    """The application asked the session for something its state does not allow (§2.3)."""


class WindowFull(SmppError):  # noqa: N818 (named by the session interface)
    """Every slot of the outbound window holds a request awaiting its response: queue it."""
