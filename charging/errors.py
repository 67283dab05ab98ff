"""Typed errors of the Ro charging package (the error tree of docs/architecture.md)."""

from __future__ import annotations

from smsc.errors import LocalProtocolError, RemoteProtocolError, SmscError


class ChargingError(SmscError):
    """Root of every error raised by the charging package."""


class ChargingUnavailable(ChargingError):  # noqa: N818 (the name of the error tree, docs/architecture.md)
    """No OCS answered in time (Tx expiry, peer lost, no peer): apply failure handling."""


class CcaDecodeError(ChargingError, RemoteProtocolError):
    """The OCS sent bytes that are not a well-formed Credit-Control-Answer (RFC 6733 §3)."""


class CcrEncodeError(ChargingError, LocalProtocolError):
    """A charging event cannot be put into a CCR (e.g. an MSISDN that is not E.164 digits)."""


class PaniSyntaxError(ChargingError):
    """A P-Access-Network-Info value does not follow RFC 7315 §5.4 / TS 24.229 §7.2A.4."""
