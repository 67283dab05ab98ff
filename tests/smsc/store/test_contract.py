"""The MessageStore contract, run against the memory twin, SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone

import pytest

from smsc.service.model import (
    Attempt,
    MessageOrigin,
    MessageState,
    NewMessage,
    StoredMessage,
)
from smsc.service.ports import MessageStore
from smsc.store import MemoryMessageStore, SqlMessageStore
from smsc.store.errors import MessageNotFoundError, StoreClosedError
from tests.smsc.store.conftest import T0

Make = Callable[..., NewMessage]
ALICE = "4917600000001"
BOB = "4917600000002"
CAROL = "4917600000003"


def test_both_implementations_satisfy_the_port() -> None:
    def accepts(store: MessageStore) -> MessageStore:
        return store

    accepts(MemoryMessageStore())
    accepts(SqlMessageStore("sqlite+aiosqlite:///unused.db"))


async def test_round_trip_keeps_every_field(store: MessageStore, make_message: Make) -> None:
    cest = timezone(timedelta(hours=2))
    message = make_message(
        submission_id="0f9e-sub",
        origin=MessageOrigin.MO,
        originator="MyBank",
        originator_ton=5,
        recipient=ALICE,
        submit_tpdu=bytes(range(256)),
        received_at=T0.astimezone(cest),
        expires_at=(T0 + timedelta(hours=1, microseconds=7)).astimezone(cest),
        segment=2,
        segments=3,
        text="Grüße 👋 ok",
        status_report=True,
        rp_mr=255,
        source="udp:10.0.0.1:5060",
        call_id="a84b4c76e66710@pc33.example.com",
        tp_mr=0,
    )
    message_id = await store.add(message)
    stored = await store.get(message_id)
    assert stored is not None
    assert stored.id == message_id
    assert stored.message == message
    assert stored.message.submit_tpdu == bytes(range(256))
    for when in (stored.message.received_at, stored.message.expires_at, stored.updated_at):
        assert when is not None and when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert stored.message.received_at == T0
    assert stored.message.expires_at == T0 + timedelta(hours=1, microseconds=7)
    assert stored.state is MessageState.QUEUED
    assert (stored.attempts, stored.history) == (0, ())
    assert (stored.last_sip_status, stored.last_rp_cause, stored.next_attempt_at) == (None,) * 3
    assert stored.delivered_at is None


async def test_every_origin_is_kept(store: MessageStore, make_message: Make) -> None:
    """No constraint on messages.origin stands in the way of one (an ESME's submission too)."""
    messages = [
        make_message(origin=origin, submission_id=f"sub-{origin}", source=f"{origin}:x")
        for origin in MessageOrigin
    ]
    ids = await store.add_many(messages)
    for message_id, message in zip(ids, messages, strict=True):
        stored = await store.get(message_id)
        assert stored is not None and stored.message == message
    esme = make_message(
        origin=MessageOrigin.SMPP,
        submission_id="0000000042",
        originator="MyBank",
        originator_ton=5,
        source="smpp:esme1:failure",
        status_report=True,
    )
    await store.add(esme)
    (kept,) = await store.get_submission("0000000042")
    assert kept.message.origin is MessageOrigin.SMPP and kept.message == esme


async def test_optional_fields_stay_none(store: MessageStore) -> None:
    message = NewMessage(
        submission_id="s",
        origin=MessageOrigin.API,
        originator="4915",
        originator_ton=1,
        recipient=BOB,
        submit_tpdu=b"",
        received_at=T0,
        expires_at=T0,
    )
    stored = await store.get(await store.add(message))
    assert stored is not None and stored.message == message


async def test_naive_datetimes_are_refused(store: MessageStore, make_message: Make) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.add(make_message(received_at=T0.replace(tzinfo=None)))
    with pytest.raises(ValueError, match="naive"):
        await store.claim_next(ALICE, T0.replace(tzinfo=None))
    assert (await store.count_by_state())[MessageState.QUEUED] == 0


async def test_get_unknown_id_is_none(store: MessageStore) -> None:
    assert await store.get(987_654) is None


async def test_ids_follow_insertion_order(store: MessageStore, make_message: Make) -> None:
    first = await store.add(make_message())
    many = await store.add_many([make_message(text=str(i)) for i in range(5)])
    last = await store.add(make_message())
    assert [first, *many, last] == sorted({first, *many, last})
    for i, message_id in enumerate(many):
        stored = await store.get(message_id)
        assert stored is not None and stored.message.text == str(i)
    assert await store.add_many([]) == []


async def test_get_submission_returns_segments_in_order(
    store: MessageStore, make_message: Make
) -> None:
    parts = [make_message(submission_id="long", segment=s, segments=3) for s in (3, 1, 2)]
    await store.add_many(parts)
    await store.add(make_message(submission_id="other"))
    found = await store.get_submission("long")
    assert [m.message.segment for m in found] == [1, 2, 3]
    assert await store.get_submission("nothing") == []


async def test_claim_next_takes_the_oldest_and_one_at_a_time(
    store: MessageStore, make_message: Make
) -> None:
    ids = await store.add_many([make_message(recipient=ALICE, text=str(i)) for i in range(3)])
    await store.add(make_message(recipient=BOB))
    claimed = await store.claim_next(ALICE, T0)
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.attempts) == (ids[0], MessageState.DELIVERING, 1)
    assert claimed.updated_at == T0
    # one in flight per recipient: the next one waits until the first is settled
    assert await store.claim_next(ALICE, T0) is None
    await store.record_attempt(ids[0], MessageState.DELIVERED, Attempt(at=T0, sip_status=202))
    second = await store.claim_next(ALICE, T0)
    assert second is not None and second.id == ids[1]


async def test_a_not_yet_due_head_blocks_its_recipient(
    store: MessageStore, make_message: Make
) -> None:
    first, second = await store.add_many([make_message(recipient=ALICE) for _ in range(2)])
    claimed = await store.claim_next(ALICE, T0)
    assert claimed is not None and claimed.id == first
    retry_at = T0 + timedelta(minutes=5)
    attempt = Attempt(at=T0, sip_status=408, outcome="timeout")
    await store.record_attempt(first, MessageState.QUEUED, attempt, next_attempt_at=retry_at)
    # the later message is due, but delivery stays in order: nothing before the retry time
    assert await store.claim_next(ALICE, T0 + timedelta(minutes=1)) is None
    assert await store.due_recipients(T0 + timedelta(minutes=1), 10) == []
    assert await store.due_recipients(retry_at, 10) == [ALICE]
    again = await store.claim_next(ALICE, retry_at)
    assert again is not None and (again.id, again.attempts) == (first, 2)
    assert again.history == (Attempt(at=T0, sip_status=408, outcome="timeout"),)
    await store.record_attempt(first, MessageState.FAILED, Attempt(at=retry_at, rp_cause=21))
    nxt = await store.claim_next(ALICE, retry_at)
    assert nxt is not None and nxt.id == second


async def test_claim_next_for_unknown_recipient_is_none(store: MessageStore) -> None:
    assert await store.claim_next("49000", T0) is None


async def test_due_recipients_lists_each_recipient_once_oldest_first(
    store: MessageStore, make_message: Make
) -> None:
    await store.add(make_message(recipient=BOB))
    await store.add(make_message(recipient=ALICE))
    await store.add(make_message(recipient=BOB))
    await store.add(make_message(recipient=CAROL))
    assert await store.due_recipients(T0, 10) == [BOB, ALICE, CAROL]
    assert await store.due_recipients(T0, 2) == [BOB, ALICE]
    claimed = await store.claim_next(BOB, T0)
    assert claimed is not None
    assert await store.due_recipients(T0, 10) == [ALICE, CAROL]  # BOB has one in flight
    await store.record_attempt(claimed.id, MessageState.DELIVERED, Attempt(at=T0))
    assert await store.due_recipients(T0, 10) == [ALICE, BOB, CAROL]


async def test_record_attempt_keeps_history_and_last_causes(
    store: MessageStore, make_message: Make
) -> None:
    message_id = await store.add(make_message(recipient=ALICE))
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=90)
    assert await store.claim_next(ALICE, T0) is not None
    failure = Attempt(at=t1, sip_status=200, rp_cause=22, outcome="memory-capacity-exceeded")
    await store.record_attempt(message_id, MessageState.QUEUED, failure, next_attempt_at=t2)
    mid = await store.get(message_id)
    assert mid is not None
    assert (mid.state, mid.last_sip_status, mid.last_rp_cause) == (MessageState.QUEUED, 200, 22)
    assert (mid.next_attempt_at, mid.updated_at, mid.delivered_at) == (t2, t1, None)
    assert await store.claim_next(ALICE, t2) is not None
    success = Attempt(at=t2.astimezone(timezone(timedelta(hours=-5))), sip_status=202)
    await store.record_attempt(message_id, MessageState.DELIVERED, success)
    done = await store.get(message_id)
    assert done is not None
    assert done.state is MessageState.DELIVERED and done.state.is_final
    assert (done.attempts, done.last_sip_status, done.last_rp_cause) == (2, 202, None)
    assert (done.delivered_at, done.updated_at, done.next_attempt_at) == (t2, t2, None)
    assert done.history == (failure, Attempt(at=t2, sip_status=202))
    assert done.history[1].at.utcoffset() == timedelta(0)


async def test_record_attempt_on_unknown_id_raises(store: MessageStore, make_message: Make) -> None:
    message_id = await store.add(make_message())
    with pytest.raises(MessageNotFoundError):
        await store.record_attempt(424_242, MessageState.FAILED, Attempt(at=T0))
    await store.record_attempt(message_id, MessageState.FAILED, Attempt(at=T0))
    stored = await store.get(message_id)
    assert stored is not None and stored.state is MessageState.FAILED


async def test_requeue_delivering(store: MessageStore, make_message: Make) -> None:
    await store.add_many([make_message(recipient=r) for r in (ALICE, BOB, CAROL)])
    a = await store.claim_next(ALICE, T0)
    b = await store.claim_next(BOB, T0)
    assert a is not None and b is not None
    assert await store.requeue_delivering() == 2
    assert await store.requeue_delivering() == 0
    back = await store.get(a.id)
    assert back is not None
    assert (back.state, back.next_attempt_at, back.attempts) == (MessageState.QUEUED, None, 1)
    assert await store.due_recipients(T0, 10) == [ALICE, BOB, CAROL]


async def test_count_by_state_lists_every_state(store: MessageStore, make_message: Make) -> None:
    assert await store.count_by_state() == dict.fromkeys(MessageState, 0)
    ids = await store.add_many([make_message(recipient=r) for r in (ALICE, BOB, CAROL, CAROL)])
    assert await store.claim_next(ALICE, T0) is not None
    assert await store.claim_next(BOB, T0) is not None
    await store.record_attempt(ids[1], MessageState.EXPIRED, Attempt(at=T0, outcome="expired"))
    assert await store.count_by_state() == {
        MessageState.SCHEDULED: 0,
        MessageState.QUEUED: 2,
        MessageState.DELIVERING: 1,
        MessageState.DELIVERED: 0,
        MessageState.FAILED: 0,
        MessageState.EXPIRED: 1,
        MessageState.CANCELLED: 0,
    }


async def test_a_closed_store_refuses_work(store: MessageStore, make_message: Make) -> None:
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.add(make_message())
    with pytest.raises(StoreClosedError):
        await store.get(1)


def _ids(messages: list[StoredMessage]) -> list[int]:
    return [m.id for m in messages]


async def test_add_then_submission_lookup_sees_committed_rows(
    store: MessageStore, make_message: Make
) -> None:
    ids = [await store.add(make_message(submission_id="x", segment=i)) for i in (1, 2)]
    assert _ids(await store.get_submission("x")) == ids


async def test_unstorable_text_is_replaced_not_refused(
    store: MessageStore, make_message: Make
) -> None:
    message = make_message(text="a\x00b \ud800", call_id="c\x00d")
    stored = await store.get(await store.add(message))
    assert stored is not None
    assert (stored.message.text, stored.message.call_id) == ("a\ufffdb ?", "c\ufffdd")
