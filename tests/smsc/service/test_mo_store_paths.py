"""MoService answers once per MO on both store paths: add() in a Task, or add_soon() futures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smsc.api.metrics import Metrics
from smsc.service.mo import AddsWithoutTask, MoService
from smsc.service.model import NewMessage
from smsc.sip.constants import Transport
from smsc.sip.events import RequestReceived
from smsc.sip.message import SipRequest
from smsc.sms.constants import RpMessageType
from smsc.sms.rp import RpData, decode_rp
from smsc.store import MemoryMessageStore
from smsc.store.errors import StoreUnavailable
from smsc.store.local_duplicates import LocalDuplicateFilter

# SMS-SUBMIT, TP-MR 0, TP-DA +49171000001, GSM 7-bit "Test"
SUBMIT = bytes.fromhex("01000B919471010000F10000" + "04D4F29C0E")


class Sender:
    def __init__(self) -> None:
        self.requests: list[SipRequest] = []

    def respond(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("MoService never responds")

    def request(self, request: SipRequest, *args: Any) -> None:
        self.requests.append(request)

    def message(self, uri: str, headers: Any, body: bytes, *args: Any, **kwargs: Any) -> None:
        self.requests.append(SipRequest("MESSAGE", uri, tuple(headers), body))


class TaskStore:
    """Only the coroutine API."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.added: list[NewMessage] = []

    async def add(self, message: NewMessage) -> int:
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("disk on fire")
        self.added.append(message)
        return len(self.added)


class FutureStore(TaskStore):
    """Also the future API, settled a little later as a group commit would."""

    def add_soon(self, message: NewMessage) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()

        def settle() -> None:
            if self.fail:
                future.set_exception(RuntimeError("disk on fire"))
            else:
                self.added.append(message)
                future.set_result(len(self.added))

        loop.call_later(0.001, settle)
        return future


def _service(store: TaskStore) -> tuple[MoService, Sender]:
    sender = Sender()
    service = MoService(
        store=store,  # type: ignore[arg-type]
        sender=sender,
        psi="sip:smsc@ims.example.net",
        new_call_id=lambda: "answer-call",
        new_tag=lambda: "tag",
        metrics=Metrics(),
        on_stored=lambda recipient: None,
    )
    return service, sender


def _event() -> RequestReceived:
    request = SipRequest("MESSAGE", "sip:smsc@ims.example.net", (("Call-ID", "mo-1"),), b"")
    return RequestReceived(request, ("127.0.0.1", 5090), Transport.UDP, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("store_class", [TaskStore, FutureStore])
@pytest.mark.parametrize("fail", [False, True])
async def test_one_answer_after_the_store_settles(store_class: type[TaskStore], fail: bool) -> None:
    store = store_class(fail=fail)
    assert isinstance(store, AddsWithoutTask) == (store_class is FutureStore)
    service, sender = _service(store)
    rp = RpData(RpMessageType.RP_DATA_MS_TO_N, 7, None, None, SUBMIT)
    service.rp_data(_event(), "sip:+491700000001@ims.example.net", "491700000001", rp)
    assert sender.requests == []  # nothing before the commit
    await service.drain()
    assert len(sender.requests) == 1
    answer = decode_rp(sender.requests[0].body)
    assert answer.message_reference == 7
    expected = RpMessageType.RP_ERROR_N_TO_MS if fail else RpMessageType.RP_ACK_N_TO_MS
    assert answer.message_type == expected
    assert len(store.added) == (0 if fail else 1)


async def test_a_store_refusing_at_once_gets_rp_error() -> None:
    class Refusing(FutureStore):
        def add_soon(self, message: NewMessage) -> asyncio.Future[int]:
            raise ValueError("naive datetime")

    service, sender = _service(Refusing())
    rp = RpData(RpMessageType.RP_DATA_MS_TO_N, 9, None, None, SUBMIT)
    service.rp_data(_event(), "sip:+491700000001@ims.example.net", "491700000001", rp)
    await service.drain()
    assert [decode_rp(r.body).message_type for r in sender.requests] == [
        RpMessageType.RP_ERROR_N_TO_MS
    ]


class ManualStore(TaskStore):
    """add_soon futures the test settles, one by one, in its own order."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[NewMessage, asyncio.Future[int]]] = []

    def add_soon(self, message: NewMessage) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending.append((message, future))
        return future


def _copy(service: MoService, call_id: str) -> None:
    request = SipRequest("MESSAGE", "sip:smsc@ims.example.net", (("Call-ID", call_id),), b"")
    event = RequestReceived(request, ("127.0.0.1", 5090), Transport.UDP, None, None)  # type: ignore[arg-type]
    rp = RpData(RpMessageType.RP_DATA_MS_TO_N, 11, None, None, SUBMIT)
    service.rp_data(event, "sip:+491700000001@ims.example.net", "491700000001", rp)


def _with_filter(store: object) -> tuple[MoService, Sender]:
    service, sender = _service(store)  # type: ignore[arg-type]
    service.duplicates = LocalDuplicateFilter()
    service._seen_now = service.duplicates.seen_now
    return service, sender


async def test_a_resend_while_the_first_copy_is_in_flight_waits_for_the_store() -> None:
    """The filter in front knows the key, but the first copy is not committed: the resend is
    not acknowledged on the filter's word. When the first copy's commit fails, the resend is
    the one stored and acknowledged (before: RP-ACK at once, and the SMS lost)."""
    store = ManualStore()
    service, sender = _with_filter(store)
    _copy(service, "first")
    _copy(service, "resend")
    assert len(store.pending) == 2  # both went to the store
    assert sender.requests == []
    (first, first_done), (resend, resend_done) = store.pending
    assert first.duplicate is not None and resend.duplicate is not None
    assert first.duplicate.key == resend.duplicate.key
    first_done.set_exception(StoreUnavailable("commit failed"))
    resend_done.set_result(1)
    await service.drain()
    answers = [decode_rp(r.body).message_type for r in sender.requests]
    assert sorted(answers) == sorted([RpMessageType.RP_ERROR_N_TO_MS, RpMessageType.RP_ACK_N_TO_MS])


async def test_a_resend_the_store_knows_is_acknowledged_and_stored_once() -> None:
    store = MemoryMessageStore()
    await store.start()
    service, sender = _service(store)  # no filter in front: the store's key alone
    _copy(service, "first")
    await service.drain()
    _copy(service, "resend")
    await service.drain()
    answers = [decode_rp(r.body) for r in sender.requests]
    assert [a.message_type for a in answers] == [RpMessageType.RP_ACK_N_TO_MS] * 2
    assert [a.message_reference for a in answers] == [11, 11]
    assert sum((await store.count_by_state()).values()) == 1
    assert service.metrics.mo_received.labels("DUPLICATE")._value.get() == 1


async def test_no_duplicate_key_when_the_window_is_zero() -> None:
    store = MemoryMessageStore()
    await store.start()
    service, _ = _service(store)
    service.duplicate_window_s = 0
    _copy(service, "first")
    _copy(service, "again")
    await service.drain()
    assert sum((await store.count_by_state()).values()) == 2
