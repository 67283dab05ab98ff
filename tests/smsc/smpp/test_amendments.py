"""PendingAmendments on the memory twin: cancel_sm and replace_sm refuse what is not the
account's, not as submitted or no longer pending, change only what is, and wake MT delivery
for the subscriber."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import Attempt, MessageState
from smsc.smpp.amendments import PendingAmendments, submitted_by
from smsc.smpp.constants import CommandStatus
from smsc.smpp.pdu import CancelSm, ReplaceSm, SubmitSm
from smsc.smpp.submit import SubmitPolicy, messages_from_submit
from smsc.store.memory import MemoryMessageStore

S = CommandStatus
UE = "4917612345678"
OTHER = "4917612345679"
PLAN = DiallingPlan()


def cancel_sm(**fields: Any) -> CancelSm:
    return CancelSm(source_addr_ton=5, source_addr="MyBank", **fields)


def replace_sm(**fields: Any) -> ReplaceSm:
    return ReplaceSm(source_addr_ton=5, source_addr="MyBank", **fields)


@dataclass
class Delivery:
    woken: list[str] = field(default_factory=list)

    def wake(self, recipients: Iterable[str] = ()) -> None:
        self.woken.extend(recipients)

    def release_soon(self, msisdn: str) -> None:
        raise AssertionError("not used")


@pytest.fixture
async def setup() -> tuple[MemoryMessageStore, PendingAmendments, Delivery]:
    store = MemoryMessageStore()
    await store.start()
    delivery = Delivery()
    return store, PendingAmendments(store, PLAN, delivery), delivery


async def submit(store: MemoryMessageStore, account: str, to: str = UE, text: bytes = b"Hi") -> str:
    pdu = SubmitSm(
        source_addr_ton=5,
        source_addr="MyBank",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=to,
        short_message=text,
    )
    messages = messages_from_submit(
        pdu, SubmitPolicy(account, ("*",)), PLAN, datetime.now(UTC), reference=1
    )
    await store.add_many(messages)
    return messages[0].submission_id


async def test_cancel_by_id(setup: tuple[MemoryMessageStore, PendingAmendments, Delivery]) -> None:
    store, amendments, delivery = setup
    mine = await submit(store, "bank")
    other = await submit(store, "shop")
    refused = await amendments.cancel(cancel_sm(message_id=other), "bank")
    assert (refused.status, refused.refused) == (
        S.ESME_RCANCELFAIL,
        "no such message of this account",
    )
    wrong = CancelSm(message_id=mine, source_addr_ton=5, source_addr="Other")
    assert (await amendments.cancel(wrong, "bank")).status == S.ESME_RCANCELFAIL
    done = await amendments.cancel(cancel_sm(message_id=mine), "bank")
    assert (done.status, done.segments, done.refused) == (S.ESME_ROK, 1, None)
    assert delivery.woken == [UE]
    again = await amendments.cancel(cancel_sm(message_id=mine), "bank")
    assert again.status == S.ESME_RCANCELFAIL
    assert [m.state for m in await store.get_submission(other)] == [MessageState.QUEUED]


async def test_cancel_all_to_one_subscriber(
    setup: tuple[MemoryMessageStore, PendingAmendments, Delivery],
) -> None:
    store, amendments, _ = setup
    a, b = await submit(store, "bank"), await submit(store, "bank")
    elsewhere, theirs = await submit(store, "bank", OTHER), await submit(store, "shop")
    claimed = await store.claim_next(UE, datetime.now(UTC))
    assert claimed is not None and claimed.message.submission_id == a  # delivering: stays
    pdu = cancel_sm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=UE)
    done = await amendments.cancel(pdu, "bank")
    assert (done.status, done.segments) == (S.ESME_ROK, 1)
    states = {sid: (await store.get_submission(sid))[0].state for sid in (a, b, elsewhere, theirs)}
    assert states == {
        a: MessageState.DELIVERING,
        b: MessageState.CANCELLED,
        elsewhere: MessageState.QUEUED,
        theirs: MessageState.QUEUED,
    }
    typed = cancel_sm(service_type="CMT", dest_addr_ton=1, dest_addr_npi=1, destination_addr=UE)
    assert (await amendments.cancel(typed, "bank")).status == S.ESME_RCANCELFAIL


async def test_replace(setup: tuple[MemoryMessageStore, PendingAmendments, Delivery]) -> None:
    store, amendments, delivery = setup
    policy = SubmitPolicy("bank", ("*",))
    sid = await submit(store, "bank", text=b"Old")
    new = replace_sm(message_id=sid, short_message=b"New")
    done = await amendments.replace(new, "bank", policy)
    assert (done.status, done.segments) == (S.ESME_ROK, 1)
    (stored,) = await store.get_submission(sid)
    assert stored.message.text == "New" and delivery.woken == [UE]
    long = await submit(store, "bank", text=b"x" * 200)  # two segments
    refused = await amendments.replace(replace_sm(message_id=long), "bank", policy)
    assert (refused.status, refused.refused) == (
        S.ESME_RREPLACEFAIL,
        "a concatenated SMS is not replaced",
    )
    claimed = await store.claim_next(UE, datetime.now(UTC))
    assert claimed is not None and claimed.message.submission_id == sid
    await store.record_attempt(claimed.id, MessageState.DELIVERED, Attempt(at=datetime.now(UTC)))
    late = await amendments.replace(new, "bank", policy)
    assert (late.status, late.refused) == (
        S.ESME_RREPLACEFAIL,
        "it is no longer pending (in delivery or final)",
    )
    too_long = replace_sm(message_id=long, short_message=b"y" * 170)
    assert (await amendments.replace(too_long, "bank", policy)).status == S.ESME_RREPLACEFAIL


async def test_cancel_replaced_leaves_the_new_one_and_others(
    setup: tuple[MemoryMessageStore, PendingAmendments, Delivery],
) -> None:
    store, amendments, _ = setup
    old = await submit(store, "bank")
    theirs = await submit(store, "shop")
    new_id = await submit(store, "bank", text=b"Newer")
    (new,) = await store.get_submission(new_id)
    assert await amendments.cancel_replaced("bank", new.message) == 1
    states = [(await store.get_submission(s))[0].state for s in (old, theirs, new_id)]
    assert states == [MessageState.CANCELLED, MessageState.QUEUED, MessageState.QUEUED]
    assert submitted_by(new.message, "bank") and not submitted_by(new.message, "shop")
    assert new.message.expires_at > datetime.now(UTC) + timedelta(days=1)
