"""Third-party REGISTER from the S-CSCF (TS 24.341 §5.3.3.1, TS 23.204): who is where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Registration:
    """An IMPU registered through an S-CSCF until `expires_at` (monotonic seconds)."""

    msisdn: str
    scscf_uri: str
    expires_at: float
    sms_over_ip: bool | None = None
    """The UE's Contact carried +g.3gpp.smsip (None when the REGISTER body was not included)."""
    access_network_info: str | None = None
    """P-Access-Network-Info of the UE's REGISTER, when included."""


class Registrar:
    """In-process registrations keyed by MSISDN; time is passed in."""

    def __init__(self, max_expires: int = 3600 * 24) -> None:
        self.max_expires = max_expires
        self._by_msisdn: dict[str, Registration] = {}

    def __len__(self) -> int:
        return len(self._by_msisdn)

    def register(
        self,
        msisdn: str,
        scscf_uri: str,
        expires: int,
        now: float,
        *,
        sms_over_ip: bool | None = None,
        access_network_info: str | None = None,
    ) -> int:
        """Store or refresh (expires > 0) or remove (0); returns the granted expiry."""
        if expires <= 0:
            self._by_msisdn.pop(msisdn, None)
            return 0
        granted = min(expires, self.max_expires)
        self._by_msisdn[msisdn] = Registration(
            msisdn, scscf_uri, now + granted, sms_over_ip, access_network_info
        )
        return granted

    def lookup(self, msisdn: str, now: float) -> Registration | None:
        registration = self._by_msisdn.get(msisdn)
        if registration is None:
            return None
        if registration.expires_at <= now:
            del self._by_msisdn[msisdn]
            return None
        return registration
