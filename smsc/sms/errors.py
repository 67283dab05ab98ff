"""Typed errors of the SMS codecs."""

from __future__ import annotations

from smsc.errors import LocalProtocolError, RemoteProtocolError
from smsc.sms.constants import RpCause, TpFailureCause


class DecodeError(RemoteProtocolError):
    """A PDU could not be decoded; ``rp_cause`` is the RP-Cause to answer with."""

    rp_cause: RpCause

    def __init__(
        self,
        message: str,
        rp_cause: RpCause = RpCause.INVALID_MANDATORY_INFORMATION,
        *,
        tp_fcs: TpFailureCause | None = None,
    ) -> None:
        super().__init__(message, rp_cause=rp_cause)
        self.rp_cause = rp_cause
        self.tp_fcs = tp_fcs


class CpDataHeaderError(DecodeError):
    """The body still carries a CP-DATA header (TS 24.011 §7.2.1); SMS over IP carries RP only."""

    def __init__(self) -> None:
        super().__init__(
            "body starts with a CP-DATA header (09 01 len); an application/vnd.3gpp.sms body "
            "must start with the RP message type octet",
            RpCause.MESSAGE_TYPE_NON_EXISTENT,
        )


class TpduDecodeError(DecodeError):
    """The TPDU inside RP-User-Data is malformed (TS 23.040 §9.2)."""

    def __init__(
        self,
        message: str,
        tp_fcs: TpFailureCause = TpFailureCause.UNSPECIFIED_ERROR_CAUSE,
        rp_cause: RpCause = RpCause.SEMANTICALLY_INCORRECT_MESSAGE,
    ) -> None:
        super().__init__(message, rp_cause, tp_fcs=tp_fcs)


class EncodeError(LocalProtocolError):
    """A message could not be encoded as asked."""


class UnencodableTextError(EncodeError):
    """Text holds a character the chosen alphabet cannot represent (TS 23.038 §6.2)."""
