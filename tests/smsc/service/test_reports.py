"""Status reports: the TP-ST table, the SMS-STATUS-REPORT TPDU, the stored report, webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from smsc.api.metrics import Metrics
from smsc.service.model import Attempt, MessageOrigin, MessageState, NewMessage, StoredMessage
from smsc.service.reports import (
    StatusReporter,
    report_message,
    status_report_tpdu,
    submission_outcome,
    tp_status,
    webhook_payload,
)
from smsc.sms.address import Address, encode_tp_address
from smsc.sms.constants import RpMessageType, TpStatus, TypeOfNumber
from smsc.sms.tp import SmsStatusReport, decode_tpdu
from smsc.store import MemoryMessageStore

RECEIVED = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
DONE = RECEIVED + timedelta(minutes=3, seconds=7)
UE = "491710000001"
PEER = "491710000002"


def submit(destination: Address, tp_mr: int = 0x42) -> bytes:
    """SMS-SUBMIT with TP-SRR (0x21), GSM7 'Test'."""
    return (
        bytes((0x21, tp_mr))
        + encode_tp_address(destination)
        + bytes((0, 0, 4))
        + bytes.fromhex("d4f29c0e")
    )


def stored(
    origin: MessageOrigin = MessageOrigin.MO,
    *,
    destination: Address | None = None,
    status_report: bool = True,
    segments: int = 1,
    segment: int = 1,
    submission_id: str = "sub-1",
    message_id: int = 7,
) -> StoredMessage:
    destination = destination or Address(PEER)
    return StoredMessage(
        id=message_id,
        message=NewMessage(
            submission_id=submission_id,
            origin=origin,
            originator=UE,
            originator_ton=1,
            recipient=destination.value,
            submit_tpdu=submit(destination),
            received_at=RECEIVED,
            expires_at=RECEIVED + timedelta(days=1),
            segment=segment,
            segments=segments,
            status_report=status_report,
            tp_mr=0x42,
        ),
        state=MessageState.DELIVERING,
        attempts=1,
    )


@pytest.mark.parametrize(
    ("state", "rp_cause", "sip_status", "expected"),
    [
        (MessageState.DELIVERED, None, 200, 0x00),
        (MessageState.EXPIRED, None, None, 0x46),
        (MessageState.EXPIRED, 41, 200, 0x46),
        (MessageState.FAILED, 30, 200, 0x43),  # unknown subscriber: not obtainable
        (MessageState.FAILED, 1, 200, 0x43),
        (MessageState.FAILED, 28, 200, 0x43),
        (MessageState.FAILED, 8, 200, 0x42),  # barring: rejected by the SME
        (MessageState.FAILED, 10, 200, 0x42),
        (MessageState.FAILED, 21, 200, 0x42),
        (MessageState.FAILED, 29, 200, 0x41),  # facility: incompatible destination
        (MessageState.FAILED, 50, 200, 0x41),
        (MessageState.FAILED, 69, 200, 0x41),
        (MessageState.FAILED, 95, 200, 0x40),  # protocol errors: remote procedure error
        (MessageState.FAILED, 111, 200, 0x40),
        (MessageState.FAILED, 127, 200, 0x45),  # interworking
        (MessageState.FAILED, None, 404, 0x43),
        (MessageState.FAILED, None, 604, 0x43),
        (MessageState.FAILED, None, 403, 0x42),
        (MessageState.FAILED, None, 488, 0x41),
        (MessageState.FAILED, None, 400, 0x40),
        (MessageState.FAILED, None, None, 0x40),  # e.g. unencodable
    ],
)
def test_tp_status_table(
    state: MessageState, rp_cause: int | None, sip_status: int | None, expected: int
) -> None:
    assert tp_status(state, rp_cause, sip_status) == expected


def test_status_report_tpdu_fields() -> None:
    message = stored().message
    tpdu = status_report_tpdu(message, TpStatus.RECEIVED_BY_SME, DONE)
    report = decode_tpdu(tpdu, RpMessageType.RP_DATA_N_TO_MS)
    assert isinstance(report, SmsStatusReport)
    assert report.message_reference == 0x42
    assert report.recipient == Address(PEER)
    assert report.scts == RECEIVED
    assert report.discharge_time == DONE
    assert report.status == 0x00
    assert report.status_report_qualifier is False  # it reports on an SMS-SUBMIT
    assert tpdu[0] & 0x03 == 0x02  # TP-MTI SMS-STATUS-REPORT


def test_tp_ra_is_the_submits_tp_da_as_sent() -> None:
    national = Address("0600000000", TypeOfNumber.UNKNOWN)
    tpdu = status_report_tpdu(stored(destination=national).message, TpStatus.RECEIVED_BY_SME, DONE)
    report = decode_tpdu(tpdu, RpMessageType.RP_DATA_N_TO_MS)
    assert isinstance(report, SmsStatusReport)
    assert report.recipient == national


def test_report_message_goes_to_the_originator() -> None:
    original = stored()
    report = report_message(original, TpStatus.PERM_NOT_OBTAINABLE, DONE, timedelta(hours=6))
    assert report.origin is MessageOrigin.STATUS_REPORT
    assert report.recipient == UE
    assert report.originator == PEER
    assert report.received_at == DONE
    assert report.expires_at == DONE + timedelta(hours=6)
    assert report.status_report is False  # never a report on a report
    assert report.submission_id == "report-7"
    decoded = decode_tpdu(report.submit_tpdu, RpMessageType.RP_DATA_N_TO_MS)
    assert isinstance(decoded, SmsStatusReport)
    assert decoded.status == 0x43


def test_submission_outcome_waits_for_every_segment() -> None:
    d, f, e, q = (
        MessageState.DELIVERED,
        MessageState.FAILED,
        MessageState.EXPIRED,
        MessageState.QUEUED,
    )
    assert submission_outcome([d, d]) is d
    assert submission_outcome([d, q]) is None
    assert submission_outcome([d, e]) is e
    assert submission_outcome([e, f, d]) is f


def test_webhook_payload() -> None:
    payload = webhook_payload(stored(MessageOrigin.API).message, MessageState.DELIVERED, DONE)
    assert payload == {
        "id": "sub-1",
        "state": "delivered",
        "to": "+" + PEER,
        "at": "2026-11-26T10:03:07+00:00",
    }


async def _memory() -> MemoryMessageStore:
    store = MemoryMessageStore()
    await store.start()
    return store


async def test_mo_with_srr_stores_a_report_and_wakes_delivery() -> None:
    store = await _memory()
    woken: list[str] = []
    metrics = Metrics()
    reporter = StatusReporter(store, metrics, on_stored=woken.append)
    await reporter.final(stored(), MessageState.FAILED, DONE, rp_cause=30)
    assert woken == [UE]
    due = await store.claim_next(UE, DONE)
    assert due is not None and due.message.origin is MessageOrigin.STATUS_REPORT
    report = decode_tpdu(due.message.submit_tpdu, RpMessageType.RP_DATA_N_TO_MS)
    assert isinstance(report, SmsStatusReport) and report.status == 0x43
    assert 'smsc_status_reports_total{channel="sms",result="stored"} 1.0' in (
        metrics.exposition().decode()
    )


async def test_no_report_without_srr_nor_for_api_without_webhook() -> None:
    store = await _memory()
    woken: list[str] = []
    reporter = StatusReporter(store, Metrics(), on_stored=woken.append)
    await reporter.final(stored(status_report=False), MessageState.DELIVERED, DONE)
    await reporter.final(stored(MessageOrigin.API), MessageState.DELIVERED, DONE)
    await reporter.close()
    assert woken == []
    assert (await store.count_by_state())[MessageState.QUEUED] == 0


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[Any], list[int]]]:
    """A webhook receiver: its URL, the JSON bodies received, the statuses to answer (pop)."""
    received: list[Any] = []
    answers: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=answers.pop(0) if answers else 204)

    app = web.Application()
    app.add_routes([web.post("/hook", handler)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", received, answers
    await runner.cleanup()


async def _until(condition: Any, timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_api_submission_gets_one_webhook_once_all_segments_are_final(
    hook: tuple[str, list[Any], list[int]],
) -> None:
    url, received, _ = hook
    store = await _memory()
    base = stored(MessageOrigin.API, segments=2).message
    first, second = await store.add_many([base, replace(base, segment=2)])
    metrics = Metrics()
    reporter = StatusReporter(store, metrics, on_stored=lambda _: None, webhook=url)
    for message_id in (first, second):
        await store.claim_next(base.recipient, DONE)
        await store.record_attempt(message_id, MessageState.DELIVERED, Attempt(DONE))
        snapshot = await store.get(message_id)
        assert snapshot is not None
        await reporter.final(snapshot, MessageState.DELIVERED, DONE)
        await reporter.final(snapshot, MessageState.DELIVERED, DONE)  # a duplicate outcome
    await _until(lambda: len(received) >= 1)
    await reporter.close()
    assert received == [
        {"id": "sub-1", "state": "delivered", "to": "+" + PEER, "at": DONE.isoformat()}
    ]
    assert 'smsc_status_reports_total{channel="webhook",result="sent"} 1.0' in (
        metrics.exposition().decode()
    )


async def test_webhook_is_retried_then_given_up_with_a_log(
    hook: tuple[str, list[Any], list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    url, received, answers = hook
    answers.extend([503, 200])
    store = await _memory()
    metrics = Metrics()
    reporter = StatusReporter(
        store, metrics, on_stored=lambda _: None, webhook=url, webhook_delays=(0.05, 0.05)
    )
    await reporter.final(stored(MessageOrigin.API), MessageState.EXPIRED, DONE)
    await _until(lambda: len(received) == 2)
    assert received[1]["state"] == "expired"

    answers.extend([500, 500, 500])
    await reporter.final(
        stored(MessageOrigin.API, submission_id="sub-2"), MessageState.FAILED, DONE
    )
    await _until(lambda: len(received) == 5)
    await reporter.close()
    text = metrics.exposition().decode()
    assert 'smsc_status_reports_total{channel="webhook",result="sent"} 1.0' in text
    assert 'smsc_status_reports_total{channel="webhook",result="failed"} 1.0' in text
    assert "status report webhook for sub-2 failed: HTTP 500" in caplog.text
