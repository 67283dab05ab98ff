"""cancel_pending in the MessageStore contract (memory twin, SQLite, PostgreSQL alike): what is
scheduled or queued of a submission is cancelled; what is delivering or final stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE = "4917600000001"
LATER = T0 + timedelta(hours=1)


async def test_pending_segments_are_cancelled_the_others_stay(
    store: MessageStore, make_message: Make
) -> None:
    ids = await store.add_many(
        [
            make_message(submission_id="s", recipient=ALICE, segment=n, segments=4)
            for n in (1, 2, 3, 4)
        ]
    )
    first = await store.claim_next(ALICE, T0)
    assert first is not None and first.id == ids[0]
    await store.record_attempt(ids[0], MessageState.DELIVERED, Attempt(at=T0))
    second = await store.claim_next(ALICE, T0)
    assert second is not None and second.id == ids[1]  # delivering
    third_retry = T0 + timedelta(minutes=5)
    assert await store.cancel_pending("s", LATER) == 2
    parts = await store.get_submission("s")
    assert [p.state for p in parts] == [
        MessageState.DELIVERED,
        MessageState.DELIVERING,
        MessageState.CANCELLED,
        MessageState.CANCELLED,
    ]
    assert [(p.updated_at, p.next_attempt_at) for p in parts[2:]] == [(LATER, None)] * 2
    assert await store.cancel_pending("s", LATER) == 0
    await store.record_attempt(ids[1], MessageState.DELIVERED, Attempt(at=third_retry))
    assert await store.claim_next(ALICE, LATER) is None  # nothing left to deliver
    assert await store.due_recipients(LATER, 10) == []
    counts = await store.count_by_state()
    assert (counts[MessageState.CANCELLED], counts[MessageState.DELIVERED]) == (2, 2)


async def test_a_scheduled_submission_is_cancelled_before_its_time(
    store: MessageStore, make_message: Make
) -> None:
    await store.add(make_message(submission_id="later", recipient=ALICE, deliver_at=LATER))
    behind = await store.add(make_message(recipient=ALICE))
    assert await store.cancel_pending("later", T0) == 1
    assert await store.queue_scheduled(LATER) == []
    claimed = await store.claim_next(ALICE, LATER)
    assert claimed is not None and claimed.id == behind
    assert await store.cancel_pending("no-such-submission", T0) == 0
