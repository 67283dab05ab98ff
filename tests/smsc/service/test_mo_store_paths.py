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
