"""SMPP 3.4 Appendix B delivery receipts: the text, the deliver_sm and its TLVs, the outbox job;
read back by our codec and by smpplib's parser (an independent implementation)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import smpplib.command
import smpplib.smpp

from smsc.outbox.jobs import SMPP_PDU_CONTENT_TYPE, OutboxKind
from smsc.service.model import MessageOrigin, MessageState, NewMessage, StoredMessage
from smsc.smpp.codec import decode
from smsc.smpp.constants import EsmClass, Npi, Tag, Ton
from smsc.smpp.constants import MessageState as SmppMessageState
from smsc.smpp.errors import SmppEncodeError
from smsc.smpp.pdu import DeliverSm
from smsc.smpp.receipts import ReceiptStat, receipt_job, receipt_pdu, receipt_text
from smsc.smpp.tlv import find_tlv, tlv_int, tlv_str

SUBMITTED = datetime(2026, 11, 26, 9, 58, 41, tzinfo=UTC)
DONE = datetime(2026, 11, 26, 10, 3, 7, tzinfo=UTC)
HANDSET = "4917612345678"
ESME_NUMBER = "4915112345678"


def part(
    state: MessageState,
    *,
    segment: int = 1,
    segments: int = 1,
    text: str | None = "Your code is 123456",
    originator: str = ESME_NUMBER,
    originator_ton: int = 1,
    rp_cause: int | None = None,
    sip_status: int | None = None,
) -> StoredMessage:
    """One stored segment of the SMPP submission "0000000042"."""
    return StoredMessage(
        id=segment,
        message=NewMessage(
            submission_id="0000000042",
            origin=MessageOrigin.SMPP,
            originator=originator,
            originator_ton=originator_ton,
            recipient=HANDSET,
            submit_tpdu=b"\x01\x00",
            received_at=SUBMITTED,
            expires_at=SUBMITTED + timedelta(days=2),
            segment=segment,
            segments=segments,
            text=text,
            status_report=True,
            source="smpp:esme1",
        ),
        state=state,
        attempts=1,
        last_rp_cause=rp_cause,
        last_sip_status=sip_status,
    )


class _Client:
    """What smpplib's PDU classes ask of a client when they are made."""

    sequence = 0

    def next_sequence(self) -> int:
        return 1


def smpplib_parse(octets: bytes) -> smpplib.command.DeliverSM:
    parsed = smpplib.smpp.parse_pdu(octets, client=_Client())
    assert isinstance(parsed, smpplib.command.DeliverSM)
    return parsed


def test_the_stats_are_table_b2_with_their_message_states() -> None:
    assert {stat.name: stat.value for stat in ReceiptStat} == {
        "DELIVRD": SmppMessageState.DELIVERED,
        "EXPIRED": SmppMessageState.EXPIRED,
        "DELETED": SmppMessageState.DELETED,
        "UNDELIV": SmppMessageState.UNDELIVERABLE,
        "ACCEPTD": SmppMessageState.ACCEPTED,
        "UNKNOWN": SmppMessageState.UNKNOWN,
        "REJECTD": SmppMessageState.REJECTED,
    }
    assert all(len(stat.name) == 7 for stat in ReceiptStat)


def test_receipt_text_fields_as_appendix_b() -> None:
    text = receipt_text(
        "0000000042", 1, 1, SUBMITTED, DONE, ReceiptStat.DELIVRD, 0, "Your code is 123456!!!"
    )
    assert text == (
        "id:0000000042 sub:001 dlvrd:001 submit date:2611260958 done date:2611261003"
        " stat:DELIVRD err:000 text:Your code is 123456!"
    )


def test_receipt_text_dates_in_utc_and_text_made_printable_ascii() -> None:
    berlin = timezone(timedelta(hours=1))
    text = receipt_text(
        "x",
        2,
        0,
        SUBMITTED.astimezone(berlin),
        DONE.replace(tzinfo=None),  # naive: taken as UTC
        ReceiptStat.EXPIRED,
        404,
        "Grüße\naus Köln €",
    )
    assert "submit date:2611260958 done date:2611261003" in text
    assert text.endswith("stat:EXPIRED err:404 text:Gr??e?aus K?ln ?")


def test_receipt_text_refuses_what_3_digits_cannot_hold() -> None:
    with pytest.raises(SmppEncodeError):
        receipt_text("x", 1000, 0, SUBMITTED, DONE, ReceiptStat.DELIVRD, 0, "")
    with pytest.raises(SmppEncodeError):
        receipt_text("x", 1, 0, SUBMITTED, DONE, ReceiptStat.UNDELIV, -1, "")


def test_a_delivered_sms() -> None:
    pdu = receipt_pdu([part(MessageState.DELIVERED, sip_status=200)], MessageState.DELIVERED, DONE)
    assert pdu.short_message == (
        b"id:0000000042 sub:001 dlvrd:001 submit date:2611260958 done date:2611261003"
        b" stat:DELIVRD err:000 text:Your code is 123456"
    )
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr) == (1, 1, HANDSET)
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (1, 1, ESME_NUMBER)
    assert pdu.esm_class == EsmClass.SMSC_DELIVERY_RECEIPT == 0x04
    assert pdu.data_coding == 0 and pdu.registered_delivery == 0
    assert tlv_str(pdu.tlvs, Tag.RECEIPTED_MESSAGE_ID) == "0000000042"
    assert tlv_int(pdu.tlvs, Tag.MESSAGE_STATE) == SmppMessageState.DELIVERED
    assert find_tlv(pdu.tlvs, Tag.NETWORK_ERROR_CODE) is None


def test_a_failed_sms_with_rp_cause_22() -> None:
    failed = part(MessageState.FAILED, rp_cause=22, sip_status=200)
    pdu = receipt_pdu([failed], MessageState.FAILED, DONE)
    assert pdu.short_message.endswith(b" stat:UNDELIV err:022 text:Your code is 123456")
    assert b"dlvrd:000" in pdu.short_message
    assert tlv_int(pdu.tlvs, Tag.MESSAGE_STATE) == SmppMessageState.UNDELIVERABLE
    assert find_tlv(pdu.tlvs, Tag.NETWORK_ERROR_CODE) == bytes.fromhex("030016")


def test_a_failure_without_rp_cause_names_the_sip_status() -> None:
    pdu = receipt_pdu([part(MessageState.FAILED, sip_status=404)], MessageState.FAILED, DONE)
    assert b" stat:UNDELIV err:404 " in pdu.short_message
    assert find_tlv(pdu.tlvs, Tag.NETWORK_ERROR_CODE) is None
    bare = receipt_pdu([part(MessageState.FAILED)], MessageState.FAILED, DONE)
    assert b" stat:UNDELIV err:000 " in bare.short_message


def test_an_expired_sms() -> None:
    pdu = receipt_pdu([part(MessageState.EXPIRED)], MessageState.EXPIRED, DONE)
    assert b" dlvrd:000 " in pdu.short_message
    assert b" stat:EXPIRED err:000 " in pdu.short_message
    assert tlv_int(pdu.tlvs, Tag.MESSAGE_STATE) == SmppMessageState.EXPIRED
    assert find_tlv(pdu.tlvs, Tag.NETWORK_ERROR_CODE) is None


def test_an_alphanumeric_and_an_unknown_type_originator() -> None:
    alpha = part(MessageState.DELIVERED, originator="MyBank", originator_ton=5)
    pdu = receipt_pdu([alpha], MessageState.DELIVERED, DONE)
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (
        Ton.ALPHANUMERIC,
        Npi.UNKNOWN,
        "MyBank",
    )
    short_code = part(MessageState.DELIVERED, originator="12345", originator_ton=0)
    pdu = receipt_pdu([short_code], MessageState.DELIVERED, DONE)
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi) == (Ton.UNKNOWN, Npi.ISDN)


def test_three_parts_two_delivered() -> None:
    parts = [
        part(MessageState.DELIVERED, segment=3, segments=3, text="ccc"),
        part(MessageState.DELIVERED, segment=1, segments=3, text="aaaaaaaaaa"),
        part(MessageState.FAILED, segment=2, segments=3, text="bbbbbbbbbb", rp_cause=30),
    ]
    pdu = receipt_pdu(parts, MessageState.FAILED, DONE)
    assert pdu.short_message == (
        b"id:0000000042 sub:003 dlvrd:002 submit date:2611260958 done date:2611261003"
        b" stat:UNDELIV err:030 text:aaaaaaaaaabbbbbbbbbb"
    )
    assert find_tlv(pdu.tlvs, Tag.NETWORK_ERROR_CODE) == bytes.fromhex("03001e")


def test_no_receipt_of_a_submission_not_final() -> None:
    with pytest.raises(SmppEncodeError):
        receipt_pdu([part(MessageState.QUEUED)], MessageState.QUEUED, DONE)
    with pytest.raises(SmppEncodeError):
        receipt_pdu([], MessageState.DELIVERED, DONE)


def test_the_outbox_job_carries_the_encoded_pdu() -> None:
    parts = [part(MessageState.FAILED, rp_cause=22)]
    job = receipt_job(parts, MessageState.FAILED, DONE, "esme1", timedelta(hours=72))
    assert (job.kind, job.target, job.url) == (OutboxKind.SMPP_RECEIPT, "esme1", "smpp:esme1")
    assert job.content_type == SMPP_PDU_CONTENT_TYPE == "application/vnd.smpp-pdu"
    assert (job.dedupe_key, job.reference) == ("receipt:0000000042", "0000000042")
    assert (job.created_at, job.expires_at) == (DONE, DONE + timedelta(hours=72))
    decoded = decode(job.body)
    assert decoded == replace(receipt_pdu(parts, MessageState.FAILED, DONE), sequence_number=0)
    assert isinstance(decoded, DeliverSm) and job.body[12:16] == b"\0\0\0\0"


@pytest.mark.parametrize(
    ("parts", "state", "message_state", "network_error"),
    [
        ([part(MessageState.DELIVERED)], MessageState.DELIVERED, 2, None),
        ([part(MessageState.FAILED, rp_cause=22)], MessageState.FAILED, 5, b"\x03\x00\x16"),
        ([part(MessageState.EXPIRED)], MessageState.EXPIRED, 3, None),
        (
            [part(MessageState.DELIVERED, originator="MyBank", originator_ton=5)],
            MessageState.DELIVERED,
            2,
            None,
        ),
    ],
)
def test_smpplib_reads_our_receipt(
    parts: list[StoredMessage],
    state: MessageState,
    message_state: int,
    network_error: bytes | None,
) -> None:
    job = receipt_job(parts, state, DONE, "esme1", timedelta(hours=1))
    parsed = smpplib_parse(job.body)
    assert parsed.command == "deliver_sm" and parsed.sequence == 0
    assert parsed.esm_class == 0x04
    assert parsed.receipted_message_id == b"0000000042"
    assert parsed.message_state == message_state
    assert parsed.network_error_code == network_error
    assert parsed.source_addr == HANDSET.encode()
    assert parsed.destination_addr == parts[0].message.originator.encode()
    assert parsed.dest_addr_ton == parts[0].message.originator_ton
    assert parsed.data_coding == 0
    assert parsed.short_message == receipt_pdu(parts, state, DONE).short_message
