"""The one root of every error the product raises (docs/architecture.md, "Errors")."""

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


class StartupError(SmscError):
    """The service could not start: one line naming what failed and where.

    ``exit_status`` is 2 when the configuration is at fault, 1 when the environment is (a
    database or Redis that cannot be reached, a port in use)."""

    def __init__(self, message: str, *, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status
