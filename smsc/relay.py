"""Sans-IO SM-RL transfer state for mobile-terminated RP-DATA (TS 24.011 §6.2, timer TR1M).

One transfer in flight per recipient; the outcome is the UE's RP-ACK / RP-ERROR (matched by
recipient and RP-MR), a SIP failure of the MT MESSAGE, or TR1M running out. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smsc.errors import LocalProtocolError


class TransferOutcome(StrEnum):
    """How an MT transfer ended."""

    DELIVERED = "delivered"
    RP_ERROR = "rp-error"
    SIP_FAILURE = "sip-failure"
    TIMEOUT = "tr1m-timeout"


@dataclass(slots=True)
class Transfer:
    """One MT RP-DATA waiting for the UE's RP answer."""

    recipient: str
    message_id: int
    rp_mr: int
    started: float
    deadline: float
    call_id: str | None = None
    sip_status: int | None = None
    """The final SIP status of the MT MESSAGE once known (a 2xx alone is not delivery)."""


@dataclass(frozen=True, slots=True)
class TransferResult:
    """A finished transfer and its outcome."""

    transfer: Transfer
    outcome: TransferOutcome
    rp_cause: int | None = None


class RecipientBusyError(LocalProtocolError):
    """A transfer to this recipient is already in flight."""


class MtRelay:
    """TS 24.011 §6.2: RP-MR allocation and the TR1M wait, per recipient."""

    def __init__(self, tr1m: float = 40.0) -> None:
        self.tr1m = tr1m
        self._by_recipient: dict[str, Transfer] = {}
        self._next_mr = 0

    def __len__(self) -> int:
        return len(self._by_recipient)

    def busy(self, recipient: str) -> bool:
        return recipient in self._by_recipient

    def start(self, recipient: str, message_id: int, now: float) -> Transfer:
        """Begin a transfer; allocates the RP-MR (TS 24.011 §8.2.3)."""
        if recipient in self._by_recipient:
            raise RecipientBusyError(recipient)
        mr = self._next_mr
        self._next_mr = (mr + 1) & 0xFF
        transfer = Transfer(recipient, message_id, mr, now, now + self.tr1m)
        self._by_recipient[recipient] = transfer
        return transfer

    def sip_final(self, recipient: str, message_id: int, status: int) -> TransferResult | None:
        """The MT MESSAGE got its final SIP response; a failure ends the transfer."""
        transfer = self._by_recipient.get(recipient)
        if transfer is None or transfer.message_id != message_id:
            return None
        transfer.sip_status = status
        if 200 <= status < 300:
            return None
        del self._by_recipient[recipient]
        return TransferResult(transfer, TransferOutcome.SIP_FAILURE)

    def rp_ack(self, recipient: str, rp_mr: int) -> TransferResult | None:
        """The UE's RP-ACK; None when it matches no transfer (a duplicate or a stray)."""
        transfer = self._match(recipient, rp_mr)
        return None if transfer is None else TransferResult(transfer, TransferOutcome.DELIVERED)

    def rp_error(self, recipient: str, rp_mr: int, cause: int) -> TransferResult | None:
        """The UE's RP-ERROR; None when it matches no transfer."""
        transfer = self._match(recipient, rp_mr)
        if transfer is None:
            return None
        return TransferResult(transfer, TransferOutcome.RP_ERROR, cause)

    def _match(self, recipient: str, rp_mr: int) -> Transfer | None:
        transfer = self._by_recipient.get(recipient)
        if transfer is None or transfer.rp_mr != rp_mr:
            return None
        del self._by_recipient[recipient]
        return transfer

    def expire(self, now: float) -> list[TransferResult]:
        """Transfers whose TR1M ran out: temporary failures."""
        expired = [t for t in self._by_recipient.values() if t.deadline <= now]
        for transfer in expired:
            del self._by_recipient[transfer.recipient]
        return [TransferResult(t, TransferOutcome.TIMEOUT) for t in expired]

    def next_deadline(self) -> float | None:
        return min((t.deadline for t in self._by_recipient.values()), default=None)
