"""release_recipients (RP-SMMA, registration) on the memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE = "4917600000001"
BOB = "4917600000002"
CAROL = "4917600000003"


async def _park(store: MessageStore, message_id: int, until: timedelta) -> None:
    """Claim the message (the recipient's head) and put it back until T0 + `until`."""
    stored = await store.get(message_id)
    assert stored is not None
    claimed = await store.claim_next(stored.message.recipient, T0)
    assert claimed is not None and claimed.id == message_id
    await store.record_attempt(
        message_id, MessageState.QUEUED, Attempt(T0, None, 22, "rp-error"), T0 + until
    )


async def test_release_makes_a_parked_head_due_now(store: MessageStore, make_message: Make) -> None:
    first, second = await store.add_many(
        [make_message(recipient=ALICE), make_message(recipient=ALICE)]
    )
    await _park(store, first, timedelta(days=1))
    later = T0 + timedelta(minutes=5)
    assert await store.due_recipients(later, 10) == []
    assert await store.claim_next(ALICE, later) is None

    assert await store.release_recipients([ALICE], later) == 1

    assert await store.due_recipients(later, 10) == [ALICE]
    claimed = await store.claim_next(ALICE, later)
    assert claimed is not None and claimed.id == first  # order kept: the parked head first
    assert claimed.history[0].rp_cause == 22
    stored = await store.get(second)
    assert stored is not None and stored.state is MessageState.QUEUED


async def test_release_touches_only_that_recipients_waiting_messages(
    store: MessageStore, make_message: Make
) -> None:
    alice, bob, fresh = await store.add_many(
        [make_message(recipient=ALICE), make_message(recipient=BOB), make_message(recipient=ALICE)]
    )
    await _park(store, alice, timedelta(hours=1))
    await _park(store, bob, timedelta(hours=1))
    now = T0 + timedelta(seconds=1)

    assert await store.release_recipients([ALICE], now) == 1  # `fresh` was already due

    assert await store.due_recipients(now, 10) == [ALICE]
    released = await store.get(alice)
    untouched = await store.get(bob)
    due = await store.get(fresh)
    assert released is not None and released.next_attempt_at == now
    assert untouched is not None and untouched.next_attempt_at == T0 + timedelta(hours=1)
    assert due is not None and due.next_attempt_at is None


async def test_release_leaves_delivering_and_final_messages_alone(
    store: MessageStore, make_message: Make
) -> None:
    done, busy = await store.add_many(
        [make_message(recipient=ALICE), make_message(recipient=ALICE)]
    )
    await store.claim_next(ALICE, T0)
    await store.record_attempt(done, MessageState.FAILED, Attempt(T0, None, 30, "rp-error"))
    claimed = await store.claim_next(ALICE, T0)
    assert claimed is not None and claimed.id == busy
    assert await store.release_recipients([ALICE], T0 + timedelta(hours=1)) == 0
    after = await store.get(busy)
    assert after is not None and after.state is MessageState.DELIVERING
    failed = await store.get(done)
    assert failed is not None and failed.state is MessageState.FAILED


async def test_release_of_nobody_is_a_no_op(store: MessageStore) -> None:
    assert await store.release_recipients(["4900000000000"], T0) == 0


async def test_several_recipients_are_released_in_one_call(
    store: MessageStore, make_message: Make
) -> None:
    later = T0 + timedelta(minutes=10)
    for recipient in (ALICE, BOB, CAROL):
        message_id = await store.add(make_message(recipient=recipient))
        claimed = await store.claim_next(recipient, T0)
        assert claimed is not None and claimed.id == message_id
        await store.record_attempt(
            message_id, MessageState.QUEUED, Attempt(at=T0, sip_status=480), later
        )
    assert await store.due_recipients(T0, 10) == []
    assert await store.release_recipients([], T0) == 0
    assert await store.release_recipients([ALICE, CAROL, "4900"], T0) == 2
    assert await store.due_recipients(T0, 10) == [ALICE, CAROL]
