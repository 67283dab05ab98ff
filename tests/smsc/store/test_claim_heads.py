"""claim_heads: the head of each recipient's queue in one statement (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE, BOB, CAROL, DAVE = (f"49176000000{i}" for i in range(1, 5))


async def test_claims_only_each_recipients_head_when_queued_and_due(
    store: MessageStore, make_message: Make
) -> None:
    a1, b1, a2, c1, d1 = await store.add_many(
        [
            make_message(recipient=ALICE),
            make_message(recipient=BOB),
            make_message(recipient=ALICE),
            make_message(recipient=CAROL),
            make_message(recipient=DAVE),
        ]
    )
    # Carol's head is delivering; Dave's head waits for a retry later.
    assert (await store.claim_next(CAROL, T0)) is not None
    assert (await store.claim_next(DAVE, T0)) is not None
    await store.record_attempt(
        d1, MessageState.QUEUED, Attempt(T0, 480, None, "sip-failure"), T0 + timedelta(hours=1)
    )

    claimed = await store.claim_heads([ALICE, BOB, CAROL, DAVE, "49170000999"], T0)

    assert [m.id for m in claimed] == [a1, b1]  # one head each, oldest first
    assert all(m.state is MessageState.DELIVERING and m.attempts == 1 for m in claimed)
    assert await store.claim_heads([ALICE, BOB], T0) == []  # heads are delivering now
    second = await store.get(a2)
    assert second is not None and second.state is MessageState.QUEUED
    carol = await store.get(c1)
    assert carol is not None and carol.attempts == 1


async def test_no_recipients_claims_nothing(store: MessageStore, make_message: Make) -> None:
    await store.add_many([make_message(recipient=ALICE)])
    assert await store.claim_heads([], T0) == []


async def test_a_claim_says_whether_more_are_queued_behind_the_head(
    store: MessageStore, make_message: Make
) -> None:
    """TS 23.040 §9.2.3.2 TP-MMS: Alice has a second message queued, Bob has not."""
    await store.add_many(
        [
            make_message(recipient=ALICE),
            make_message(recipient=BOB),
            make_message(recipient=ALICE),
        ]
    )
    claimed = await store.claim_heads([ALICE, BOB], T0)
    assert {(m.message.recipient, m.more_queued) for m in claimed} == {
        (ALICE, True),
        (BOB, False),
    }
