"""SMPP 3.4 Appendix B: the SMSC delivery receipt of a submit_sm, a deliver_sm back to its ESME.

The short_message is the Appendix B text, fields in the order of its example:

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
    err:E text:...

(one line; every name lower case as Table B-1 lists them, "text" too; Table B-1 sizes
sub, dlvrd and err at 3 characters, zero-padded). The same outcome is in the TLVs
receipted_message_id, message_state and, for an RP-Cause, network_error_code (§5.3.2.12,
§5.3.2.35, §5.3.2.31), which an ESME should read rather than the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from smsc.outbox.jobs import SMPP_PDU_CONTENT_TYPE, NewOutboxJob, OutboxKind
from smsc.service.model import MessageState, StoredMessage, first_failed
from smsc.smpp.codec import encode
from smsc.smpp.constants import DataCoding, EsmClass, Npi, Tag, Ton
from smsc.smpp.constants import MessageState as SmppMessageState
from smsc.smpp.errors import SmppEncodeError
from smsc.smpp.pdu import DeliverSm
from smsc.smpp.tlv import make_tlv
from smsc.sms.constants import TypeOfNumber

__all__ = [
    "GSM_NETWORK_TYPE",
    "RECEIPT_TEXT_CHARS",
    "STAT_BY_STATE",
    "ReceiptStat",
    "receipt_job",
    "receipt_pdu",
    "receipt_text",
]

RECEIPT_TEXT_CHARS = 20
"""SMPP 3.4 Appendix B Table B-1: text is the first 20 characters of the short message."""
TEXT_FIELD = "text"
"""The last field's name as Table B-1 lists it, the lower case that receipt parsers match
(Appendix B's example line writes "Text:")."""
GSM_NETWORK_TYPE = 3
"""SMPP 3.4 §5.3.2.31 network_error_code: network type 3 = GSM (the error an RP-Cause)."""
_MAX_FIELD = 999
"""sub, dlvrd and err are 3 digits."""


class ReceiptStat(IntEnum):
    """SMPP 3.4 Appendix B Table B-2: a receipt's stat (its name), valued its §5.2.28
    message_state."""

    DELIVRD = SmppMessageState.DELIVERED
    EXPIRED = SmppMessageState.EXPIRED
    DELETED = SmppMessageState.DELETED
    UNDELIV = SmppMessageState.UNDELIVERABLE
    ACCEPTD = SmppMessageState.ACCEPTED
    UNKNOWN = SmppMessageState.UNKNOWN
    REJECTD = SmppMessageState.REJECTED


STAT_BY_STATE: Mapping[MessageState, ReceiptStat] = {
    MessageState.DELIVERED: ReceiptStat.DELIVRD,
    MessageState.EXPIRED: ReceiptStat.EXPIRED,
    MessageState.FAILED: ReceiptStat.UNDELIV,
    MessageState.CANCELLED: ReceiptStat.DELETED,
}
"""The stat of a submission's final state."""


def receipt_text(  # noqa: PLR0917 - the Appendix B fields, in their order
    message_id: str,
    submitted: int,
    delivered: int,
    submit_date: datetime,
    done_date: datetime,
    stat: ReceiptStat,
    err: int,
    text: str,
) -> str:
    """SMPP 3.4 Appendix B: the receipt's short_message text; dates in UTC (a naive one is
    taken as UTC), `text` cut to its first 20 characters, any but printable ASCII as '?'."""
    for name, value in (("sub", submitted), ("dlvrd", delivered), ("err", err)):
        if not 0 <= value <= _MAX_FIELD:
            raise SmppEncodeError(f"receipt {name} {value} is not 3 digits")
    shown = "".join(c if " " <= c <= "~" else "?" for c in text[:RECEIPT_TEXT_CHARS])
    return (
        f"id:{message_id} sub:{submitted:03d} dlvrd:{delivered:03d}"
        f" submit date:{_minute(submit_date)} done date:{_minute(done_date)}"
        f" stat:{stat.name} err:{err:03d} {TEXT_FIELD}:{shown}"
    )


def _minute(value: datetime) -> str:
    """YYMMDDhhmm in UTC."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%y%m%d%H%M")


def receipt_pdu(parts: Sequence[StoredMessage], state: MessageState, at: datetime) -> DeliverSm:
    """The deliver_sm receipt of a submission (its stored segments) that ended in `state` at
    `at`: from the handset to the ESME's source address, esm_class SMSC delivery receipt
    (§5.2.12), the Appendix B text, and the TLVs receipted_message_id, message_state and, when
    a segment failed on an RP-Cause, network_error_code (GSM, the RP-Cause). err is that
    RP-Cause, else that segment's SIP status, else 0."""
    if not parts:
        raise SmppEncodeError("a receipt needs the submission's messages")
    stat = STAT_BY_STATE.get(state)
    if stat is None:
        raise SmppEncodeError(f"no receipt for a submission still {state}")
    ordered = sorted(parts, key=lambda part: part.message.segment)
    first = ordered[0].message
    rp_cause, sip_status = _failure(ordered, state)
    err = rp_cause if rp_cause is not None else sip_status or 0
    text = receipt_text(
        first.submission_id,
        first.segments,
        sum(1 for part in ordered if part.state is MessageState.DELIVERED),
        first.received_at,
        at,
        stat,
        err,
        "".join(part.message.text or "" for part in ordered),
    )
    tlvs = [
        make_tlv(Tag.RECEIPTED_MESSAGE_ID, first.submission_id),
        make_tlv(Tag.MESSAGE_STATE, int(stat)),
    ]
    if rp_cause is not None:
        error = bytes((GSM_NETWORK_TYPE,)) + rp_cause.to_bytes(2, "big")
        tlvs.append(make_tlv(Tag.NETWORK_ERROR_CODE, error))
    dest_ton, dest_npi = _esme_address_type(first.originator_ton)
    return DeliverSm(
        source_addr_ton=Ton.INTERNATIONAL,
        source_addr_npi=Npi.ISDN,
        source_addr=first.recipient,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        destination_addr=first.originator,
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        data_coding=DataCoding.SMSC_DEFAULT,
        short_message=text.encode("ascii"),
        tlvs=tuple(tlvs),
    )


def _failure(parts: Sequence[StoredMessage], state: MessageState) -> tuple[int | None, int | None]:
    """(RP-Cause, SIP status) of the first failed segment of a failed submission."""
    if state is not MessageState.FAILED:
        return None, None
    failed = first_failed(parts)
    if failed is None:
        return None, None
    return failed.last_rp_cause, failed.last_sip_status


def _esme_address_type(originator_ton: int) -> tuple[Ton, Npi]:
    """TON and NPI of the ESME's source address as the submission kept it."""
    if originator_ton == TypeOfNumber.ALPHANUMERIC:
        return Ton.ALPHANUMERIC, Npi.UNKNOWN
    if originator_ton == TypeOfNumber.INTERNATIONAL:
        return Ton.INTERNATIONAL, Npi.ISDN
    return Ton.UNKNOWN, Npi.ISDN


def receipt_job(
    parts: Sequence[StoredMessage],
    state: MessageState,
    at: datetime,
    system_id: str,
    keep: timedelta,
) -> NewOutboxJob:
    """The outbox job of a receipt to the ESME `system_id`: one per submission (its dedupe
    key), kept until its deliver_sm_resp or until `keep` has passed; the body is the encoded
    deliver_sm with sequence number 0 (its sender puts a fresh one)."""
    pdu = receipt_pdu(parts, state, at)
    submission_id = min(parts, key=lambda part: part.message.segment).message.submission_id
    return NewOutboxJob(
        kind=OutboxKind.SMPP_RECEIPT,
        target=system_id,
        url=f"smpp:{system_id}",
        body=encode(pdu, sequence_number=0),
        content_type=SMPP_PDU_CONTENT_TYPE,
        created_at=at,
        expires_at=at + keep,
        dedupe_key=f"receipt:{submission_id}",
        reference=submission_id,
    )
