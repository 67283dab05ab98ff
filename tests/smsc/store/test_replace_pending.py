"""replace_pending (SMPP replace_sm) in the MessageStore contract (memory twin, SQLite,
PostgreSQL alike): a pending message gets the new content, and its delivery time only when
asked; one in delivery or final is left alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE = "4917600000001"
LATER = T0 + timedelta(hours=1)


def renewed(message: NewMessage, **fields: object) -> NewMessage:
    return replace(
        message,
        submit_tpdu=b"\x01\x02new",
        text="new text",
        expires_at=T0 + timedelta(days=3),
        status_report=True,
        source="smpp:acme",
        **fields,  # type: ignore[arg-type]
    )


async def test_the_content_is_replaced_and_the_schedule_kept(
    store: MessageStore, make_message: Make
) -> None:
    original = make_message(recipient=ALICE, deliver_at=LATER, text="old")
    message_id = await store.add(original)
    new = renewed(original, deliver_at=LATER + timedelta(hours=5))
    assert await store.replace_pending(message_id, new, reschedule=False, now=T0)
    stored = await store.get(message_id)
    assert stored is not None
    assert (stored.state, stored.next_attempt_at, stored.updated_at) == (
        MessageState.SCHEDULED,
        LATER,
        T0,
    )
    assert stored.message == replace(new, deliver_at=LATER)


async def test_a_new_schedule_or_none(store: MessageStore, make_message: Make) -> None:
    original = make_message(recipient=ALICE, deliver_at=LATER)
    message_id = await store.add(original)
    later = LATER + timedelta(hours=2)
    assert await store.replace_pending(
        message_id, renewed(original, deliver_at=later), reschedule=True, now=T0
    )
    stored = await store.get(message_id)
    assert stored is not None
    assert (stored.state, stored.next_attempt_at, stored.message.deliver_at) == (
        MessageState.SCHEDULED,
        later,
        later,
    )
    assert await store.replace_pending(
        message_id, renewed(original, deliver_at=None), reschedule=True, now=T0
    )
    stored = await store.get(message_id)
    assert stored is not None
    assert (stored.state, stored.next_attempt_at) == (MessageState.QUEUED, None)
    claimed = await store.claim_next(ALICE, T0)
    assert claimed is not None and claimed.message.text == "new text"


async def test_a_message_in_delivery_or_final_or_unknown_is_not_replaced(
    store: MessageStore, make_message: Make
) -> None:
    original = make_message(recipient=ALICE, text="old")
    message_id = await store.add(original)
    assert await store.claim_next(ALICE, T0) is not None
    new = renewed(original)
    assert not await store.replace_pending(message_id, new, reschedule=False, now=T0)
    await store.record_attempt(message_id, MessageState.DELIVERED, Attempt(at=T0))
    assert not await store.replace_pending(message_id, new, reschedule=False, now=T0)
    assert not await store.replace_pending(message_id + 100, new, reschedule=False, now=T0)
    stored = await store.get(message_id)
    assert stored is not None and stored.message.text == "old"
