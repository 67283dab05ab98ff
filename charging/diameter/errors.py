"""Typed errors of the Diameter base-protocol package (under charging.errors.ChargingError)."""

from __future__ import annotations

from charging.errors import ChargingError
from smsc.errors import LocalProtocolError, RemoteProtocolError


class DiameterError(ChargingError):
    """Root of every error raised by charging.diameter."""


class DiameterFramingError(DiameterError, RemoteProtocolError):
    """The byte stream cannot be cut into Diameter messages (RFC 6733 §3 header)."""


class DiameterDecodeError(DiameterError, RemoteProtocolError):
    """A complete message is not a well-formed base-protocol message (RFC 6733 §3-§5)."""


class DiameterEncodeError(DiameterError, LocalProtocolError):
    """We were asked to build something illegal (an identity or request that cannot be sent)."""


class PeerNotOpen(DiameterError):  # noqa: N818 (named by the peer interface)
    """A request was offered to a peer that is not in the OPEN state (RFC 6733 §5.6)."""
