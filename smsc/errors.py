"""The one root of every error the product raises (DESIGN.md §2)."""

from __future__ import annotations


class SmscError(Exception):
    """Root of all errors raised by this product."""


class RemoteProtocolError(SmscError):
    """The peer sent something illegal; carries the answer to put on the wire."""

    def __init__(
        self, message: str, *, rp_cause: int | None = None, sip_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.rp_cause = rp_cause
        self.sip_status = sip_status


class LocalProtocolError(SmscError):
    """We tried to build something illegal."""
