"""MO SMS to an application (`routing.applications`): what is POSTed, one JSON document per SMS.

Each segment of an MO is kept in the outbox as it arrives (its RP-ACK follows the commit); the
outbox POSTs a whole message once every segment is there, or after its reassembly timeout with
what came. `segment_document` is what one segment contributes; `compose_message` makes the
POSTed body of a message from its segments' documents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smsc.outbox.jobs import SMPP_PDU_CONTENT_TYPE, NewOutboxJob, OutboxKind, StoredOutboxJob
from smsc.routing.numbering import Number, NumberKind
from smsc.service.model import NewMessage
from smsc.settings import ApplicationRoute
from smsc.smpp.codec import encode
from smsc.smpp.pdu import DeliverSm
from smsc.sms.constants import Alphabet, TypeOfNumber
from smsc.sms.dcs import decode_dcs
from smsc.sms.tp import SmsSubmit
from smsc.sms.udh import UserDataHeader, encode_udh

_CONCATENATION_IEIS = frozenset((0x00, 0x08))
"""TS 23.040 §9.2.3.24.1 and §9.2.3.24.8: dropped from the reassembled message's UDH."""

CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One segment as the outbox holds it: its row id and the document `segment_document` made."""

    id: int
    body: bytes


def _udh_hex(header: UserDataHeader | None, *, without_concatenation: bool = False) -> str | None:
    if header is None:
        return None
    elements = header.elements
    if without_concatenation:
        elements = tuple(ie for ie in elements if ie.iei not in _CONCATENATION_IEIS)
        if not elements:
            return None
    encoded = encode_udh(UserDataHeader(elements))
    return (bytes((len(encoded),)) + encoded).hex()  # with its length octet, as in TP-UD


def segment_document(
    *,
    application: str,
    originator: str,
    originator_ton: int,
    recipient: Number,
    submit: SmsSubmit,
    received_at: datetime,
    roaming_status: str | None,
    visited_plmn: str | None,
) -> bytes:
    """What one segment of an MO contributes to the POSTed message (TS 23.040 §9.2.2.2)."""
    user_data = submit.user_data
    header = user_data.header
    concat = None if header is None else header.concatenation
    compressed = submit.coding.compressed
    document: dict[str, Any] = {
        "application": application,
        "from": originator if originator_ton == TypeOfNumber.ALPHANUMERIC else "+" + originator,
        "to": str(recipient),
        "dcs": submit.dcs,
        "pid": submit.pid,
        "text": None if compressed else user_data.text,
        "data": user_data.body.hex() if compressed or user_data.text is None else None,
        "udh": _udh_hex(header),
        "udh_without_concatenation": _udh_hex(header, without_concatenation=True),
        "concatenation": None
        if concat is None
        else {"reference": concat.reference, "total": concat.total, "sequence": concat.sequence},
        "roaming": {"status": roaming_status, "visited_plmn": visited_plmn},
        "received_at": received_at.isoformat(),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _sequence(part: dict[str, Any]) -> int:
    concat = part.get("concatenation")
    return int(concat["sequence"]) if isinstance(concat, dict) else 1


def compose_message(parts: Sequence[StoredPart]) -> bytes:
    """The JSON POSTed to the application: the segments reassembled in sequence order (a
    segment seen twice counts once); `id` is the first segment's outbox id, the same on every
    attempt, as the Idempotency-Key header."""
    if not parts:
        raise ValueError("a message has at least one segment")
    ordered = sorted(parts, key=lambda part: part.id)
    documents: dict[int, tuple[int, dict[str, Any]]] = {}
    for part in ordered:
        document = json.loads(part.body)
        documents.setdefault(_sequence(document), (part.id, document))
    by_sequence = [documents[sequence] for sequence in sorted(documents)]
    first = by_sequence[0][1]
    texts = [document.get("text") for _, document in by_sequence]
    text = "".join(t for t in texts if isinstance(t, str)) if None not in texts else None
    concat = first.get("concatenation")
    total = int(concat["total"]) if isinstance(concat, dict) else 1
    body: dict[str, Any] = {
        "id": str(ordered[0].id),
        "application": first["application"],
        "from": first["from"],
        "to": first["to"],
        "text": text,
        "dcs": first["dcs"],
        "pid": first["pid"],
        "udh": first.get("udh_without_concatenation"),
        "concatenation": None
        if not isinstance(concat, dict)
        else {
            "reference": concat["reference"],
            "total": total,
            "received": len(by_sequence),
            "complete": len(by_sequence) >= total,
        },
        "parts": [
            {
                "id": str(part_id),
                "sequence": _sequence(document),
                "text": document.get("text"),
                "data": document.get("data"),
                "udh": document.get("udh"),
            }
            for part_id, document in by_sequence
        ],
        "roaming": first.get("roaming"),
        "received_at": first["received_at"],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def group_key(stored: NewMessage, submit: SmsSubmit) -> str | None:
    """What the segments of one concatenated MO share (TS 23.040 §9.2.3.24.1): sender,
    recipient, reference and total; None for a single SMS."""
    header = submit.user_data.header
    concat = None if header is None else header.concatenation
    if concat is None or concat.total <= 1:
        return None
    return (
        f"{stored.originator}>{stored.recipient}:"
        f"{concat.reference_bits}/{concat.reference}/{concat.total}"
    )


def smpp_data_coding(dcs: int) -> int:
    """SMPP 3.4 §5.2.19 data_coding of a TP-DCS (TS 23.038 §4): the GSM message class forms
    (0xC0-0xFF) as they are; otherwise by alphabet: GSM 7-bit 0 (the SMSC default alphabet,
    one septet per octet), 8-bit 4, UCS2 8."""
    if dcs >= 0xC0:
        return dcs
    alphabet = decode_dcs(dcs).alphabet
    if alphabet is Alphabet.UCS2:
        return 8
    if alphabet is Alphabet.GSM7:
        return 0
    return 4


def smpp_mo_pdu(stored: NewMessage, submit: SmsSubmit, recipient: Number) -> DeliverSm:
    """SMPP 3.4 §4.6.1: one MO segment as a deliver_sm to an ESME: the sender (TON 1), the
    number or short code it was sent to, TP-PID, the TP-DCS as data_coding and the user data
    with its UDH (esm_class UDHI), GSM 7-bit as one septet per octet."""
    user_data = submit.user_data
    header = b""
    if user_data.header is not None:
        encoded = encode_udh(user_data.header)
        header = bytes((len(encoded),)) + encoded
    esm_class = (0x40 if header else 0) | (0x80 if submit.reply_path else 0)
    international = recipient.kind is NumberKind.E164
    return DeliverSm(
        source_addr_ton=1 if stored.originator_ton == TypeOfNumber.INTERNATIONAL else 0,
        source_addr_npi=1,
        source_addr=stored.originator,
        dest_addr_ton=1 if international else 0,
        dest_addr_npi=1,
        destination_addr=recipient.digits,
        esm_class=esm_class,
        protocol_id=submit.pid,
        data_coding=smpp_data_coding(submit.dcs),
        short_message=header + user_data.body,
    )


def smpp_job(
    application: ApplicationRoute, stored: NewMessage, submit: SmsSubmit, recipient: Number
) -> NewOutboxJob:
    """The outbox job of one MO segment for an application reached over SMPP: a deliver_sm
    to the account's receiver sessions, kept until one answers ESME_ROK or the SMS expires.
    Each segment goes on its own (with its UDH), as SMPP carries them."""
    assert application.smpp is not None
    return NewOutboxJob(
        kind=OutboxKind.SMPP_MO,
        target=application.smpp,
        url=f"smpp:{application.smpp}",
        body=encode(smpp_mo_pdu(stored, submit, recipient)),
        content_type=SMPP_PDU_CONTENT_TYPE,
        created_at=stored.received_at,
        expires_at=stored.expires_at,
        reference=stored.submission_id,
    )


def application_job(
    application: ApplicationRoute, stored: NewMessage, submit: SmsSubmit, recipient: Number
) -> NewOutboxJob:
    """The outbox job of one MO segment for `application`: kept until delivered or the SMS's
    validity period ends."""
    if application.url is None:
        return smpp_job(application, stored, submit, recipient)
    header = submit.user_data.header
    concat = None if header is None else header.concatenation
    body = segment_document(
        application=application.name,
        originator=stored.originator,
        originator_ton=stored.originator_ton,
        recipient=recipient,
        submit=submit,
        received_at=stored.received_at,
        roaming_status=stored.roaming_status,
        visited_plmn=stored.visited_plmn,
    )
    grouped = group_key(stored, submit)
    return NewOutboxJob(
        kind=OutboxKind.APPLICATION,
        target=application.name,
        url=application.url,
        body=body,
        content_type=CONTENT_TYPE,
        timeout_ms=application.timeout_ms,
        verify_tls=application.verify_tls,
        created_at=stored.received_at,
        expires_at=stored.expires_at,
        group_key=grouped,
        group_size=1 if grouped is None or concat is None else concat.total,
        group_part=1 if grouped is None or concat is None else concat.sequence,
        reference=stored.submission_id,
    )


def compose_jobs(jobs: Sequence[StoredOutboxJob]) -> bytes:
    """The outbox's composer of application jobs: `compose_message` over the kept rows."""
    return compose_message([StoredPart(job.id, job.job.body) for job in jobs])
