"""Scheduled delivery in the MessageStore contract (memory twin, SQLite, PostgreSQL alike):
a scheduled message holds no place in its recipient's queue until `queue_scheduled` finds its
time has come, and never becomes a second message in flight for its recipient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE = "4917600000001"
BOB = "4917600000002"
LATER = T0 + timedelta(hours=3)


async def test_a_scheduled_message_is_kept_with_its_time(
    store: MessageStore, make_message: Make
) -> None:
    cet = timezone(timedelta(hours=1))
    message = make_message(recipient=ALICE, deliver_at=LATER.astimezone(cet))
    message_id = await store.add(message)
    stored = await store.get(message_id)
    assert stored is not None
    assert stored.state is MessageState.SCHEDULED
    assert stored.message.deliver_at == LATER
    assert stored.message.deliver_at is not None
    assert stored.message.deliver_at.utcoffset() == timedelta(0)
    assert stored.next_attempt_at == LATER
    assert stored.attempts == 0
    plain = await store.get(await store.add(make_message(recipient=BOB)))
    assert plain is not None and plain.message.deliver_at is None
    assert plain.state is MessageState.QUEUED


async def test_it_is_neither_due_nor_claimed_before_its_time(
    store: MessageStore, make_message: Make
) -> None:
    await store.add(make_message(recipient=ALICE, deliver_at=LATER))
    after = LATER + timedelta(hours=1)  # even past its time: not until queue_scheduled
    assert await store.due_recipients(after, 10) == []
    assert await store.claim_next(ALICE, after) is None
    assert await store.claim_heads([ALICE], after) == []
    assert await store.release_recipients([ALICE], after) == 0
    assert await store.queue_scheduled(LATER - timedelta(microseconds=1)) == []
    counts = await store.count_by_state()
    assert (counts[MessageState.SCHEDULED], counts[MessageState.QUEUED]) == (1, 0)


async def test_it_does_not_hold_up_the_messages_submitted_after_it(
    store: MessageStore, make_message: Make
) -> None:
    scheduled = await store.add(make_message(recipient=ALICE, deliver_at=LATER))
    now_one = await store.add(make_message(recipient=ALICE))
    assert await store.due_recipients(T0, 10) == [ALICE]
    claimed = await store.claim_heads([ALICE], T0)
    assert [m.id for m in claimed] == [now_one]
    assert not claimed[0].more_queued  # the scheduled one is not queued behind it
    await store.record_attempt(now_one, MessageState.DELIVERED, Attempt(at=T0, sip_status=202))
    still = await store.get(scheduled)
    assert still is not None and still.state is MessageState.SCHEDULED


async def test_its_time_queues_it_ahead_of_later_messages(
    store: MessageStore, make_message: Make
) -> None:
    scheduled = await store.add(make_message(recipient=ALICE, deliver_at=LATER))
    behind = await store.add(make_message(recipient=ALICE))
    other = await store.add(make_message(recipient=BOB, deliver_at=LATER + timedelta(hours=1)))
    assert await store.queue_scheduled(LATER) == [(ALICE, 0)]
    assert await store.queue_scheduled(LATER) == []  # once
    queued = await store.get(scheduled)
    assert queued is not None
    assert (queued.state, queued.updated_at) == (MessageState.QUEUED, LATER)
    assert queued.message.deliver_at == LATER  # kept after its time
    head = await store.claim_next(ALICE, LATER)
    assert head is not None and head.id == scheduled
    await store.record_attempt(scheduled, MessageState.DELIVERED, Attempt(at=LATER))
    nxt = await store.claim_next(ALICE, LATER)
    assert nxt is not None and nxt.id == behind
    waiting = await store.get(other)
    assert waiting is not None and waiting.state is MessageState.SCHEDULED


async def test_it_waits_while_its_recipient_has_one_in_flight(
    store: MessageStore, make_message: Make
) -> None:
    """Queued while another is delivering, the older scheduled message would become the head
    and be claimed beside it: two transfers to one UE, out of order."""
    scheduled = await store.add(make_message(recipient=ALICE, deliver_at=LATER))
    in_flight = await store.add(make_message(recipient=ALICE))
    claimed = await store.claim_heads([ALICE], T0)
    assert [m.id for m in claimed] == [in_flight]
    assert await store.queue_scheduled(LATER) == []
    assert await store.claim_next(ALICE, LATER) is None
    await store.record_attempt(
        in_flight,
        MessageState.QUEUED,
        Attempt(at=LATER, sip_status=408, outcome="timeout"),
        LATER + timedelta(minutes=5),
    )
    assert await store.queue_scheduled(LATER) == [(ALICE, 0)]
    # the scheduled one is the head now, due; the retried one waits behind it
    head = await store.claim_heads([ALICE], LATER)
    assert [m.id for m in head] == [scheduled]
    assert head[0].more_queued


async def test_segments_of_a_scheduled_submission_are_queued_together(
    store: MessageStore, make_message: Make
) -> None:
    parts = [
        make_message(submission_id="long", recipient=ALICE, segment=n, segments=3, deliver_at=LATER)
        for n in (1, 2, 3)
    ]
    ids = await store.add_many(parts)
    assert [m.state for m in await store.get_submission("long")] == [MessageState.SCHEDULED] * 3
    assert await store.queue_scheduled(LATER + timedelta(seconds=1)) == [(ALICE, 0)] * 3
    for message_id in ids:
        claimed = await store.claim_next(ALICE, LATER + timedelta(seconds=1))
        assert claimed is not None and claimed.id == message_id
        await store.record_attempt(message_id, MessageState.DELIVERED, Attempt(at=LATER))


async def test_waiting_for_shows_scheduled_messages(
    store: MessageStore, make_message: Make
) -> None:
    scheduled = await store.add(make_message(recipient=ALICE, deliver_at=LATER))
    queued = await store.add(make_message(recipient=ALICE))
    waiting = await store.waiting_for(ALICE)
    assert [(m.id, m.state) for m in waiting] == [
        (scheduled, MessageState.SCHEDULED),
        (queued, MessageState.QUEUED),
    ]


async def test_the_priority_of_a_scheduled_message_comes_back_when_it_is_queued(
    store: MessageStore, make_message: Make
) -> None:
    await store.add_many(
        [
            make_message(recipient=ALICE, deliver_at=LATER, priority=1),
            make_message(recipient=BOB, deliver_at=LATER),
        ]
    )
    assert sorted(await store.queue_scheduled(LATER)) == [(ALICE, 1), (BOB, 0)]
