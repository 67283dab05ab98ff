"""Status reports: the TP-ST table, the SMS-STATUS-REPORT TPDU, the stored report, the
delivery reports of API submissions and the receipts of SMPP submissions (kept in the
outbox)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smsc.api.metrics import Metrics
from smsc.outbox.jobs import NewOutboxJob, OutboxKind
from smsc.service.model import (
    Attempt,
    DuplicateKey,
    MessageOrigin,
    MessageState,
    NewMessage,
    StoredMessage,
)
from smsc.service.reports import (
    StatusReporter,
    delivery_report,
    report_cause,
    report_message,
    smpp_account,
    status_report_tpdu,
    submission_outcome,
    tp_status,
)
from smsc.smpp.codec import decode
from smsc.smpp.pdu import DeliverSm
from smsc.sms.address import Address, encode_tp_address
from smsc.sms.constants import RpMessageType, TpStatus, TypeOfNumber
from smsc.sms.tp import SmsStatusReport, decode_tpdu
from smsc.store import MemoryMessageStore
from smsc.store.errors import StoreError

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
        (MessageState.CANCELLED, None, None, 0x47),  # deleted by the originating SME
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
    c, s = MessageState.CANCELLED, MessageState.SCHEDULED
    assert submission_outcome([d, c]) is c
    assert submission_outcome([c, e]) is e
    assert submission_outcome([c, s]) is None


def test_delivery_report_of_a_delivered_submission() -> None:
    part = replace(stored(MessageOrigin.API), state=MessageState.DELIVERED)
    part = replace(part, message=replace(part.message, client_ref="otp-1"))
    report = delivery_report([part], MessageState.DELIVERED, DONE)
    assert report == {
        "id": "sub-1",
        "client_ref": "otp-1",
        "from": "+" + UE,
        "to": "+" + PEER,
        "state": "delivered",
        "cause": None,
        "segments": {"delivered": 1, "total": 1},
        "submitted_at": RECEIVED.isoformat(),
        "done_at": DONE.isoformat(),
        "at": DONE.isoformat(),
    }


def test_delivery_report_names_the_cause() -> None:
    base = stored(MessageOrigin.API, segments=2)
    ok = replace(base, state=MessageState.DELIVERED)
    failed = replace(base, state=MessageState.FAILED, last_rp_cause=21, last_sip_status=200)
    report = delivery_report([ok, failed], MessageState.FAILED, DONE)
    assert report["cause"] == {"reason": "rp-error", "rp_cause": 21, "sip_status": 200}
    assert report["segments"] == {"delivered": 1, "total": 2}
    by_sip = replace(failed, last_rp_cause=None, last_sip_status=404)
    assert report_cause([by_sip], MessageState.FAILED) == {
        "reason": "sip-error",
        "rp_cause": None,
        "sip_status": 404,
    }
    assert report_cause([base], MessageState.EXPIRED) == {
        "reason": "expired",
        "rp_cause": None,
        "sip_status": None,
    }
    alphanumeric = replace(base.message, originator="MyBank", originator_ton=5)
    assert (
        delivery_report([replace(base, message=alphanumeric)], MessageState.EXPIRED, DONE)["from"]
        == "MyBank"
    )


class KeptJobs:
    """The outbox at the edge: keeps jobs, one per dedupe key, as the real store does."""

    def __init__(self) -> None:
        self.jobs: dict[str, NewOutboxJob] = {}
        self.failing = False

    async def submit(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        if self.failing:
            raise StoreError("database gone")
        assert job.dedupe_key is not None and duplicate is None
        self.jobs.setdefault(job.dedupe_key, job)
        return len(self.jobs)


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


async def test_no_report_without_srr_nor_for_api_without_callback() -> None:
    store = await _memory()
    woken: list[str] = []
    outbox = KeptJobs()
    reporter = StatusReporter(store, Metrics(), on_stored=woken.append, outbox=outbox)
    await reporter.final(stored(status_report=False), MessageState.DELIVERED, DONE)
    await reporter.final(stored(MessageOrigin.API), MessageState.DELIVERED, DONE)
    assert woken == [] and outbox.jobs == {}
    assert (await store.count_by_state())[MessageState.QUEUED] == 0


async def test_api_submission_gets_one_report_once_all_segments_are_final() -> None:
    store = await _memory()
    base = replace(
        stored(MessageOrigin.API, segments=2).message,
        callback_url="https://app.example.net/dlr/1",
        client_ref="otp-1",
    )
    first, second = await store.add_many([base, replace(base, segment=2)])
    metrics = Metrics()
    outbox = KeptJobs()
    reporter = StatusReporter(
        store, metrics, on_stored=lambda _: None, webhook="http://hook.example.net/", outbox=outbox
    )
    for message_id in (first, second):
        await store.claim_next(base.recipient, DONE)
        await store.record_attempt(message_id, MessageState.DELIVERED, Attempt(DONE))
        snapshot = await store.get(message_id)
        assert snapshot is not None
        await reporter.final(snapshot, MessageState.DELIVERED, DONE)
        await reporter.final(snapshot, MessageState.DELIVERED, DONE)  # a duplicate outcome
    (job,) = outbox.jobs.values()
    assert job.url == "https://app.example.net/dlr/1"  # the callback wins over the webhook
    assert (job.kind, job.target, job.dedupe_key) == (
        OutboxKind.DELIVERY_REPORT,
        "callback",
        "report:sub-1",
    )
    assert job.expires_at == DONE + timedelta(days=1)
    body = json.loads(job.body)
    assert (body["state"], body["client_ref"], body["segments"]) == (
        "delivered",
        "otp-1",
        {"delivered": 2, "total": 2},
    )
    assert 'smsc_status_reports_total{channel="callback",result="queued"} 2.0' in (
        metrics.exposition().decode()
    )


async def test_the_webhook_gets_reports_without_a_callback_and_a_store_failure_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = await _memory()
    metrics = Metrics()
    outbox = KeptJobs()
    reporter = StatusReporter(
        store, metrics, on_stored=lambda _: None, webhook="http://hook.example.net/", outbox=outbox
    )
    await reporter.final(stored(MessageOrigin.API), MessageState.FAILED, DONE, rp_cause=30)
    (job,) = outbox.jobs.values()
    assert (job.url, job.target) == ("http://hook.example.net/", "webhook")
    assert json.loads(job.body)["cause"] == {
        "reason": "rp-error",
        "rp_cause": 30,
        "sip_status": None,
    }
    outbox.failing = True
    await reporter.final(
        stored(MessageOrigin.API, submission_id="sub-2"), MessageState.FAILED, DONE
    )
    assert 'smsc_status_reports_total{channel="callback",result="store-failed"} 1.0' in (
        metrics.exposition().decode()
    )
    assert "delivery report of sub-2 not kept" in caplog.text


def esme_submission(
    *, source: str = "smpp:esme1", segments: int = 1, status_report: bool = True
) -> NewMessage:
    """An ESME's submit_sm as stored: from its source address, to the handset PEER."""
    return replace(
        stored(MessageOrigin.SMPP, segments=segments, status_report=status_report).message,
        submission_id="0000000042",
        originator="MyBank",
        originator_ton=5,
        source=source,
        text="Your code is 123456",
    )


async def test_an_smpp_submission_gets_a_receipt_in_the_outbox() -> None:
    store = await _memory()
    metrics = Metrics()
    outbox = KeptJobs()
    reporter = StatusReporter(store, metrics, on_stored=lambda _: None, outbox=outbox)
    message_id = await store.add(esme_submission())
    snapshot = await store.claim_next(PEER, DONE)
    assert snapshot is not None and snapshot.id == message_id
    await reporter.final(snapshot, MessageState.FAILED, DONE, rp_cause=22, sip_status=200)
    (job,) = outbox.jobs.values()
    assert (job.kind, job.target, job.url) == (OutboxKind.SMPP_RECEIPT, "esme1", "smpp:esme1")
    assert (job.dedupe_key, job.reference) == ("receipt:0000000042", "0000000042")
    assert job.expires_at == DONE + timedelta(hours=72)
    pdu = decode(job.body)
    assert isinstance(pdu, DeliverSm) and pdu.esm_class == 0x04
    assert (pdu.source_addr, pdu.destination_addr, pdu.dest_addr_ton) == (PEER, "MyBank", 5)
    assert pdu.short_message.endswith(b"stat:UNDELIV err:022 text:Your code is 123456")
    assert 'smsc_status_reports_total{channel="smpp",result="queued"} 1.0' in (
        metrics.exposition().decode()
    )


async def test_a_multipart_smpp_submission_gets_one_receipt_once_all_segments_are_final() -> None:
    store = await _memory()
    base = esme_submission(segments=2)
    first, second = await store.add_many([base, replace(base, segment=2, text="!")])
    outbox = KeptJobs()
    reporter = StatusReporter(
        store,
        Metrics(),
        on_stored=lambda _: None,
        outbox=outbox,
        receipt_keep=timedelta(hours=6),
    )
    outcomes = {first: MessageState.DELIVERED, second: MessageState.EXPIRED}
    for message_id, state in outcomes.items():
        await store.claim_next(base.recipient, DONE)
        await store.record_attempt(message_id, state, Attempt(DONE))
        snapshot = await store.get(message_id)
        assert snapshot is not None
        await reporter.final(snapshot, state, DONE)
        if message_id == first:
            assert outbox.jobs == {}  # the second segment is not final yet
        await reporter.final(snapshot, state, DONE)  # a duplicate outcome
    (job,) = outbox.jobs.values()
    assert job.expires_at == DONE + timedelta(hours=6)
    pdu = decode(job.body)
    assert isinstance(pdu, DeliverSm)
    assert b"sub:002 dlvrd:001 " in pdu.short_message
    assert b"stat:EXPIRED err:000 text:Your code is 123456!" in pdu.short_message


async def test_a_failure_only_receipt_is_not_sent_for_a_delivered_submission() -> None:
    store = await _memory()
    outbox = KeptJobs()
    reporter = StatusReporter(store, Metrics(), on_stored=lambda _: None, outbox=outbox)
    failure_only = esme_submission(source="smpp:esme1:failure")
    snapshot = StoredMessage(7, failure_only, MessageState.DELIVERING)
    await reporter.final(snapshot, MessageState.DELIVERED, DONE, sip_status=200)
    assert outbox.jobs == {}
    await reporter.final(snapshot, MessageState.FAILED, DONE, sip_status=404)
    (job,) = outbox.jobs.values()
    assert job.target == "esme1"
    assert b"stat:UNDELIV err:404 " in job.body


async def test_no_receipt_unasked_nor_without_an_outbox_and_a_failure_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = await _memory()
    metrics = Metrics()
    outbox = KeptJobs()
    reporter = StatusReporter(store, metrics, on_stored=lambda _: None, outbox=outbox)
    unasked = StoredMessage(7, esme_submission(status_report=False), MessageState.DELIVERING)
    await reporter.final(unasked, MessageState.DELIVERED, DONE)
    asked = StoredMessage(7, esme_submission(), MessageState.DELIVERING)
    await StatusReporter(store, metrics, on_stored=lambda _: None).final(
        asked, MessageState.DELIVERED, DONE
    )
    assert outbox.jobs == {}
    nameless = StoredMessage(7, esme_submission(source="tcp:10.0.0.1:2775"), asked.state)
    await reporter.final(nameless, MessageState.DELIVERED, DONE)
    assert outbox.jobs == {}
    assert "SMPP receipt of 0000000042 not kept: source 'tcp:10.0.0.1:2775'" in caplog.text
    outbox.failing = True
    await reporter.final(asked, MessageState.DELIVERED, DONE)
    assert outbox.jobs == {}
    assert 'smsc_status_reports_total{channel="smpp",result="store-failed"} 2.0' in (
        metrics.exposition().decode()
    )
    assert "SMPP receipt of 0000000042 not kept" in caplog.text


def test_the_smpp_account_of_a_source() -> None:
    assert smpp_account("smpp:esme1") == ("esme1", False)
    assert smpp_account("smpp:esme1:failure") == ("esme1", True)
    assert smpp_account("smpp:a:b") == ("a:b", False)
    assert smpp_account("smpp:") is None
    assert smpp_account("smpp::failure") is None
    assert smpp_account("udp:10.0.0.1:5060") is None
    assert smpp_account(None) is None
