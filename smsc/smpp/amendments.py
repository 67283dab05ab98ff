"""What an ESME may change of its SMS still pending, on the message store: cancel_sm
(SMPP 3.4 §4.9), replace_sm (§4.10) and submit_sm's replace_if_present_flag (§5.2.18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import MessageState, NewMessage, smpp_account
from smsc.service.ports import MessageStore, MtDelivery
from smsc.smpp.constants import CommandStatus
from smsc.smpp.pdu import CancelSm, ReplaceSm
from smsc.smpp.replace import replacement
from smsc.smpp.submit import SubmitPolicy, SubmitRefused, originator_of, recipient_of

__all__ = ["Amended", "PendingAmendments", "submitted_by"]

_PENDING = (MessageState.SCHEDULED, MessageState.QUEUED)
_CANCEL_ALL_LIMIT = 10_000
"""The most messages waiting for one subscriber that a cancel_sm without message_id looks at."""


def submitted_by(message: NewMessage, system_id: str) -> bool:
    """Whether the ESME `system_id` submitted the message (its source names it)."""
    account = smpp_account(message.source)
    return account is not None and account[0] == system_id


@dataclass(frozen=True, slots=True)
class Amended:
    """What a cancel_sm or replace_sm did: `segments` changed, or why not (`refused`) and the
    command_status to answer."""

    segments: int = 0
    refused: str | None = None
    status: int = CommandStatus.ESME_ROK


class PendingAmendments:
    """cancel_sm, replace_sm and replace_if_present_flag of one SMSC: the store changes only
    what is scheduled or queued; MT delivery is woken for what may go now."""

    def __init__(self, store: MessageStore, plan: DiallingPlan, delivery: MtDelivery) -> None:
        self.store = store
        self.plan = plan
        self.delivery = delivery

    async def cancel(self, pdu: CancelSm, name: str) -> Amended:
        """§4.9: what is still pending of a submission of account `name`, its source_addr (and
        destination_addr, when given) matching the submission's; without a message_id, of
        every submission of the account from source_addr to destination_addr. StoreError
        propagates."""
        amended = await (
            self._cancel_one(pdu, name) if pdu.message_id else self._cancel_all(pdu, name)
        )
        if amended.refused is None and not amended.segments:
            return _cancel_refused("nothing left pending (delivered, in delivery or final)")
        return amended

    async def replace(self, pdu: ReplaceSm, name: str, policy: SubmitPolicy) -> Amended:
        """§4.10: new content for a pending one-segment SMS of account `name`, its source_addr
        matching the submission's. StoreError propagates."""
        parts = [
            part
            for part in await self.store.get_submission(pdu.message_id)
            if submitted_by(part.message, name)
        ]
        if not parts:
            return _replace_refused("no such message of this account")
        if len(parts) != 1:
            return _replace_refused("a concatenated SMS is not replaced")
        (stored,) = parts
        if not self._same_addresses(pdu, stored.message):
            return _replace_refused("source_addr is not the submission's")
        try:
            new = replacement(pdu, stored, policy, self.plan, datetime.now(UTC))
        except SubmitRefused as refused:
            return Amended(refused=str(refused), status=refused.command_status)
        replaced = await self.store.replace_pending(
            stored.id, new.message, reschedule=new.reschedule, now=datetime.now(UTC)
        )
        if not replaced:
            return _replace_refused("it is no longer pending (in delivery or final)")
        self.delivery.wake((stored.message.recipient,))
        return Amended(segments=1)

    async def cancel_replaced(self, name: str, new: NewMessage) -> int:
        """§5.2.18 replace_if_present_flag, once `new` is kept: the account's pending SMS from
        the same sender to the same subscriber are cancelled (service_type is not kept, so it
        is not compared). Returns how many submissions; StoreError propagates."""
        sender = (new.originator, new.originator_ton)
        replaced = await self._pending(name, sender, new.recipient) - {new.submission_id}
        now = datetime.now(UTC)
        for submission_id in sorted(replaced):
            await self.store.cancel_pending(submission_id, now)
        return len(replaced)

    async def _cancel_one(self, pdu: CancelSm, name: str) -> Amended:
        parts = await self.store.get_submission(pdu.message_id)
        mine = [part.message for part in parts if submitted_by(part.message, name)]
        if not mine:
            return _cancel_refused("no such message of this account")
        if not self._same_addresses(pdu, mine[0]):
            return _cancel_refused("source_addr or destination_addr is not the submission's")
        count = await self.store.cancel_pending(pdu.message_id, datetime.now(UTC))
        self.delivery.wake((mine[0].recipient,))  # what waited behind it may go
        return Amended(segments=count)

    async def _cancel_all(self, pdu: CancelSm, name: str) -> Amended:
        """§4.9.1 without message_id (service_type is not kept, so it cannot be matched)."""
        if pdu.service_type:
            return _cancel_refused("service_type is not kept with a message: cancel by message_id")
        if not pdu.destination_addr:
            return _cancel_refused("cancel_sm needs a message_id, or a destination_addr")
        try:
            source = originator_of(pdu, self.plan)
            recipient = recipient_of(pdu, self.plan)
        except SubmitRefused as refused:
            return _cancel_refused(str(refused))
        pending = await self._pending(name, (source.value, int(source.ton)), recipient)
        now = datetime.now(UTC)
        count = 0
        for submission_id in sorted(pending):
            count += await self.store.cancel_pending(submission_id, now)
        self.delivery.wake((recipient,))
        return Amended(segments=count)

    async def _pending(self, name: str, sender: tuple[str, int], recipient: str) -> set[str]:
        """The submissions of account `name` from `sender` (originator, TON) to `recipient`
        with a segment still scheduled or queued."""
        return {
            stored.message.submission_id
            for stored in await self.store.waiting_for(recipient, _CANCEL_ALL_LIMIT)
            if stored.state in _PENDING
            and submitted_by(stored.message, name)
            and (stored.message.originator, stored.message.originator_ton) == sender
        }

    def _same_addresses(self, pdu: CancelSm | ReplaceSm, message: NewMessage) -> bool:
        """Whether the PDU's source_addr (and cancel_sm's destination_addr, if given) are those
        of the submission, read the same way as the submit's."""
        try:
            source = originator_of(pdu, self.plan)
            if (source.value, int(source.ton)) != (message.originator, message.originator_ton):
                return False
            if isinstance(pdu, ReplaceSm) or not pdu.destination_addr:
                return True
            return recipient_of(pdu, self.plan) == message.recipient
        except SubmitRefused:
            return False


def _cancel_refused(reason: str) -> Amended:
    return Amended(refused=reason, status=CommandStatus.ESME_RCANCELFAIL)


def _replace_refused(reason: str) -> Amended:
    return Amended(refused=reason, status=CommandStatus.ESME_RREPLACEFAIL)
