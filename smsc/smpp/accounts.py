"""The ESMEs allowed to bind (`smpp.accounts`): credentials, bind types, networks, rates."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from smsc.settings import SmppAccount
from smsc.smpp.constants import CommandStatus
from smsc.smpp.errors import SmppError
from smsc.smpp.pdu import Bind, BindReceiver, BindTransceiver, BindTransmitter

__all__ = ["Accounts", "BindRefused", "RateLimiter", "bind_type_of"]


class BindRefused(SmppError):  # noqa: N818 (an outcome the log and metrics name)
    """SMPP 3.4 §4.1: the bind is answered with ``command_status``; ``reason`` is for the log."""

    def __init__(self, command_status: int, reason: str) -> None:
        super().__init__(reason)
        self.command_status = command_status
        self.reason = reason


def bind_type_of(bind: Bind) -> str:
    """The `bind_types` name of a bind PDU: tx, rx or trx."""
    if isinstance(bind, BindTransmitter):
        return "tx"
    if isinstance(bind, BindReceiver):
        return "rx"
    assert isinstance(bind, BindTransceiver)
    return "trx"


@dataclass(frozen=True, slots=True)
class _Networks:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def allow(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


class Accounts:
    """Checks a bind against the configured accounts."""

    def __init__(self, accounts: Sequence[SmppAccount]) -> None:
        self._accounts = {account.system_id: account for account in accounts}
        self._networks = {
            account.system_id: _Networks(
                tuple(ipaddress.ip_network(n, strict=False) for n in account.allowed_networks)
            )
            for account in accounts
        }

    def __contains__(self, system_id: object) -> bool:
        return system_id in self._accounts

    def get(self, system_id: str) -> SmppAccount | None:
        return self._accounts.get(system_id)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def authenticate(self, bind: Bind, peer_host: str) -> SmppAccount:
        """The account the bind may use, or BindRefused with the status to answer: an unknown
        system_id ESME_RINVSYSID, a wrong password ESME_RINVPASWD (compared in constant
        time), a bind type or a network the account does not allow ESME_RBINDFAIL."""
        account = self._accounts.get(bind.system_id)
        if account is None:
            raise BindRefused(CommandStatus.ESME_RINVSYSID, f"unknown system_id {bind.system_id!r}")
        given = bind.password.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, account.password.encode("utf-8")):
            raise BindRefused(CommandStatus.ESME_RINVPASWD, "wrong password")
        kind = bind_type_of(bind)
        if kind not in account.bind_types:
            raise BindRefused(CommandStatus.ESME_RBINDFAIL, f"bind type {kind} not allowed")
        if not self._networks[account.system_id].allow(peer_host):
            raise BindRefused(CommandStatus.ESME_RBINDFAIL, f"address {peer_host} not allowed")
        return account


class RateLimiter:
    """A token bucket per account: `max_rate` submits per second, bursts of one second's worth
    (at least one); None allows everything."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate or 0.0)
        self._tokens = self.capacity
        self._at: float | None = None

    def allow(self, now: float) -> bool:
        """Take one token if there is one (`now` monotonic seconds)."""
        rate = self.rate
        if rate is None:
            return True
        if self._at is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
