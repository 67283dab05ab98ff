"""SMPP 3.4 §4.4.1 submit_sm and §4.7.1 data_sm as the stored SMS-SUBMITs (TS 23.040 §9.2.2.2).

The mapping is the HTTP API's (smsc.service.submit.build_messages): one NewMessage per TPDU,
the segments of one submission sharing its `submission_id`, which is the message_id the ESME
gets back. Whatever is refused raises SubmitRefused with the §5.1.3 command_status to answer.
Messages of SubmitRefused never quote an address (subscriber data, see smsc/redact.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smsc.routing.numbering import (
    DiallingPlan,
    Number,
    NumberKind,
    NumberRefusal,
    NumberRefused,
    normalise,
)
from smsc.service.model import (
    DEFAULT_VALIDITY,
    MAX_SCHEDULE,
    MessageOrigin,
    NewMessage,
    new_submission_id,
    smpp_source,
)
from smsc.smpp.constants import (
    CommandStatus,
    DataCoding,
    EsmClass,
    PriorityFlag,
    RegisteredDelivery,
    Tag,
    Ton,
)
from smsc.smpp.errors import PduError, SmppError
from smsc.smpp.pdu import CancelSm, DataSm, ReplaceSm, SubmitSm
from smsc.smpp.times import parse_time
from smsc.smpp.tlv import Tlvs, find_tlv, tlv_int
from smsc.sms.address import MAX_ALPHANUMERIC_SEPTETS, Address
from smsc.sms.alphabet import (
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    gsm7_septet_count,
)
from smsc.sms.constants import Alphabet, NationalLanguage, TypeOfNumber, UdhIei
from smsc.sms.dcs import dcs_for, decode_dcs
from smsc.sms.errors import DecodeError, EncodeError, UnencodableTextError
from smsc.sms.segments import SegmentPlan, segment_text
from smsc.sms.tp import SmsSubmit, encode_tpdu
from smsc.sms.udh import InformationElement, UserDataHeader, concatenation_ie, decode_udh
from smsc.sms.user_data import MAX_OCTETS, UserData, encode_user_data
from smsc.sms.validity import RelativeValidity, relative_value

__all__ = [
    "SubmitPolicy",
    "SubmitRefused",
    "messages_from_submit",
    "originator_of",
    "recipient_of",
    "source_allowed",
]

_S = CommandStatus
_ESM_ACCEPTED = EsmClass.MESSAGING_MODE_MASK | EsmClass.GSM_FEATURES_MASK
"""§5.2.12: any messaging mode (we always store and forward), message type 0, UDHI, reply path."""
_MAX_PRIORITY = max(PriorityFlag)
_GSM_GROUPS = 0xC0
"""§5.2.19: from 0xC0 on, data_coding is a TS 23.038 §4 TP-DCS (MWI and message class groups)."""
_TP_DCS: dict[int, int] = {
    DataCoding.SMSC_DEFAULT: dcs_for(Alphabet.GSM7),
    DataCoding.OCTET_UNSPECIFIED_02: dcs_for(Alphabet.EIGHT_BIT),
    DataCoding.OCTET_UNSPECIFIED: dcs_for(Alphabet.EIGHT_BIT),
    DataCoding.UCS2: dcs_for(Alphabet.UCS2),
}
"""§5.2.19 data_coding passed on as a TP-DCS of the general group (TS 23.038 §4)."""
_CHARSETS: dict[int, str] = {DataCoding.IA5: "ascii", DataCoding.LATIN_1: "latin-1"}
"""§5.2.19 data_coding of text our codec re-encodes (GSM 7-bit when it can, else UCS2)."""
_PART_OCTETS = MAX_OCTETS - 6
"""TS 23.040 §9.2.3.24.1: 134 octets beside UDHL and an 8-bit-reference concatenation IE."""
_MAX_PARTS = 255
_CONCATENATION = frozenset(
    (UdhIei.CONCATENATED_8BIT_REFERENCE, UdhIei.CONCATENATED_16BIT_REFERENCE)
)
_HIGH_SURROGATE = range(0xD8, 0xDC)
"""TS 23.038 §6.2.3: first octets of a UTF-16BE high surrogate, not to be cut from its pair."""
_SAR_TAGS = (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM)


class SubmitRefused(SmppError):  # noqa: N818 (named by the interface, an outcome not a fault)
    """SMPP 3.4 §5.1.3: the submit_sm / data_sm is refused; `command_status` goes in its _resp."""

    def __init__(self, message: str, command_status: int) -> None:
        super().__init__(message)
        self.command_status = command_status


@dataclass(frozen=True, slots=True)
class SubmitPolicy:
    """What one ESME account (settings SmppAccount) may submit: its senders and validities."""

    system_id: str
    allowed_sources: tuple[str, ...]
    """Settings SmppSource patterns: "*", "+E.164", "+E.164 prefix*", a short code ("4444",
    or a prefix "44*") or an alphanumeric name ("MyBank", compared exactly)."""
    default_validity: timedelta = DEFAULT_VALIDITY
    """When validity_period is empty (and always for data_sm); capped at max_validity too."""
    max_validity: timedelta = timedelta(days=7)
    """The longest life of a message, counted from its scheduled time (or submission)."""
    max_schedule: timedelta = MAX_SCHEDULE
    """How far ahead schedule_delivery_time may be."""
    default_priority: int = 0
    """The priority of a submit whose priority_flag is 0 (data_sm has none)."""


def source_allowed(address: Address, patterns: tuple[str, ...]) -> bool:
    """Whether one of `patterns` (settings SmppSource) admits the sender `address`."""
    return any(_admits(pattern, address) for pattern in patterns)


def _admits(pattern: str, address: Address) -> bool:
    """A number pattern is [+]digits[*] ('+': international, '*': a prefix), any other is a
    name; a number pattern without '+' admits short codes (TON unknown) only."""
    if pattern == "*":
        return True
    international = pattern.startswith("+")
    digits = pattern.removeprefix("+")
    prefix = digits.endswith("*")
    digits = digits.removesuffix("*")
    if not (digits.isascii() and digits.isdigit()):
        return address.is_alphanumeric and address.value == pattern
    if address.is_alphanumeric or international != (address.ton == TypeOfNumber.INTERNATIONAL):
        return False
    return address.value.startswith(digits) if prefix else address.value == digits


def messages_from_submit(
    pdu: SubmitSm | DataSm,
    policy: SubmitPolicy,
    plan: DiallingPlan,
    now: datetime,
    *,
    reference: int,
) -> list[NewMessage]:
    """SMPP 3.4 §4.4.1 / §4.7.1: one stored SMS-SUBMIT per segment, sharing a submission_id.

    `now` is aware; `reference` (its low 8 bits) is the concatenation reference when our
    codec splits the message. Raises SubmitRefused only.
    """
    udhi, reply_path = _esm_class(pdu.esm_class)
    pid = 0
    priority = policy.default_priority
    if isinstance(pdu, SubmitSm):
        _check_priority(pdu.priority_flag)
        priority = pdu.priority_flag or priority
        pid = pdu.protocol_id
    originator = originator_of(pdu, plan)
    if not source_allowed(originator, policy.allowed_sources):
        raise SubmitRefused(
            f"source_addr is not one the account {policy.system_id} may send from",
            _S.ESME_RINVSRCADR,
        )
    recipient = recipient_of(pdu, plan)
    payload = _payload(pdu)
    header, body = _split_header(payload) if udhi else (None, payload)
    sar = _sar(pdu.tlvs)
    if sar is None:
        dcs, parts = _user_data(pdu.data_coding, header, body, reference & 0xFF)
    else:
        dcs, parts = _sar_user_data(pdu.data_coding, header, body, sar)
    deliver_at = _schedule(pdu, policy, now)
    start = now if deliver_at is None else deliver_at
    expires_at = _expiry(pdu, policy, now, start)
    status_report, source = _receipt(pdu.registered_delivery, policy.system_id)
    submission_id = new_submission_id()
    destination = Address(recipient)
    tp_vp = RelativeValidity(relative_value(expires_at - start))
    messages = []
    for number, user_data in enumerate(parts, start=1):
        submit = SmsSubmit(
            number & 0xFF, destination, pid, dcs, user_data, tp_vp, reply_path=reply_path
        )
        messages.append(
            NewMessage(
                submission_id=submission_id,
                origin=MessageOrigin.SMPP,
                originator=originator.value,
                originator_ton=int(originator.ton),
                recipient=recipient,
                submit_tpdu=_encode(submit),
                received_at=now,
                expires_at=expires_at,
                segment=number,
                segments=len(parts),
                text=user_data.text,
                status_report=status_report,
                source=source,
                deliver_at=deliver_at,
                priority=priority,
            )
        )
    return messages


def _esm_class(esm_class: int) -> tuple[bool, bool]:
    """SMPP 3.4 §5.2.12: (UDHI, reply path); a message type other than 0 is refused."""
    if esm_class & ~_ESM_ACCEPTED:
        raise SubmitRefused(
            f"esm_class {esm_class:#04x}: only a short message (message type 0) is submitted",
            _S.ESME_RINVESMCLASS,
        )
    return bool(esm_class & EsmClass.UDHI), bool(esm_class & EsmClass.REPLY_PATH)


def _check_priority(priority_flag: int) -> None:
    """SMPP 3.4 §5.2.14: 0-3 (GSM: 0 non-priority, 1-3 priority)."""
    if not 0 <= priority_flag <= _MAX_PRIORITY:
        raise SubmitRefused(f"priority_flag {priority_flag} is not 0-3", _S.ESME_RINVPRTFLG)


def _number(digits: str, ton: int, npi: int, plan: DiallingPlan, *, source: bool) -> Number:
    """SMPP 3.4 §5.2.5-6 TON/NPI and digits as the plan's number (smsc.routing.numbering)."""
    try:
        return normalise(digits, ton, npi, plan)
    except NumberRefused as exc:
        name = "source_addr" if source else "destination_addr"
        if exc.reason is NumberRefusal.TYPE_OF_NUMBER:
            status = _S.ESME_RINVSRCTON if source else _S.ESME_RINVDSTTON
        elif exc.reason is NumberRefusal.NUMBERING_PLAN:
            status = _S.ESME_RINVSRCNPI if source else _S.ESME_RINVDSTNPI
        else:
            status = _S.ESME_RINVSRCADR if source else _S.ESME_RINVDSTADR
        raise SubmitRefused(f"{name} is not a number: {exc}", status) from None


def originator_of(pdu: SubmitSm | DataSm | CancelSm | ReplaceSm, plan: DiallingPlan) -> Address:
    """SMPP 3.4 §5.2.5 source_addr_ton 5: a name of at most 11 GSM 7-bit characters (TP-OA TON
    5); other TONs: digits by the dialling plan, a short code staying TON unknown."""
    text = pdu.source_addr
    if pdu.source_addr_ton == Ton.ALPHANUMERIC:
        septets = gsm7_septet_count(text)
        if not text or septets is None or septets > MAX_ALPHANUMERIC_SEPTETS:
            raise SubmitRefused(
                "an alphanumeric source_addr is 1 to 11 GSM 7-bit characters",
                _S.ESME_RINVSRCADR,
            )
        return Address.alphanumeric(text)
    number = _number(text, pdu.source_addr_ton, pdu.source_addr_npi, plan, source=True)
    if number.kind is NumberKind.SHORT_CODE:
        return Address(number.digits, TypeOfNumber.UNKNOWN)
    if len(number.digits) < 3:
        raise SubmitRefused("source_addr: an E.164 number has 3 to 15 digits", _S.ESME_RINVSRCADR)
    return Address(number.digits, TypeOfNumber.INTERNATIONAL)


def recipient_of(pdu: SubmitSm | DataSm | CancelSm, plan: DiallingPlan) -> str:
    """SMPP 3.4 §5.2.8-9: a subscriber's E.164 number (digits, TP-DA), not a short code."""
    number = _number(pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, plan, source=False)
    if number.kind is not NumberKind.E164 or len(number.digits) < 3:
        raise SubmitRefused(
            "destination_addr must be a subscriber's number, not a short code",
            _S.ESME_RINVDSTADR,
        )
    return number.digits


def _payload(pdu: SubmitSm | DataSm) -> bytes:
    """SMPP 3.4 §5.2.22 short_message or §5.3.2.32 message_payload, not both (data_sm: the
    TLV only); an empty message is refused, as the HTTP API refuses an empty text."""
    tlv = find_tlv(pdu.tlvs, Tag.MESSAGE_PAYLOAD) or b""
    short_message = pdu.short_message if isinstance(pdu, SubmitSm) else b""
    if short_message and tlv:
        raise SubmitRefused(
            "message_payload with a short_message: sm_length must be 0", _S.ESME_RINVOPTPARAMVAL
        )
    payload = short_message or tlv
    if not payload:
        raise SubmitRefused("neither short_message nor message_payload", _S.ESME_RINVMSGLEN)
    return payload


def _split_header(payload: bytes) -> tuple[UserDataHeader, bytes]:
    """SMPP 3.4 §5.2.12 UDHI: the message starts with UDHL and the IEs (TS 23.040 §9.2.3.24)."""
    end = payload[0] + 1
    if end > len(payload):
        raise SubmitRefused(
            f"esm_class UDHI: UDHL {payload[0]} runs past the message", _S.ESME_RINVESMCLASS
        )
    try:
        header = decode_udh(payload[1:end])
    except DecodeError as exc:
        raise SubmitRefused(f"esm_class UDHI: {exc}", _S.ESME_RINVESMCLASS) from None
    return header, payload[end:]


def _sar_user_data(
    data_coding: int, header: UserDataHeader | None, body: bytes, sar: tuple[int, int, int]
) -> tuple[int, list[UserData]]:
    """TS 23.040 §9.2.3.24.1 / §9.2.3.24.8: the SAR part with an 8-bit-reference
    concatenation IE when its reference fits one octet; a larger reference takes the 16-bit IE
    when the part still fits one TPDU, else its low octet (ESMEs cut SAR parts at 134 octets or
    153 septets, the room an 8-bit IE leaves)."""
    ref, total, seq = sar
    if ref > 0xFF:
        wide = _with_sar(header, concatenation_ie(ref, total, seq, reference_bits=16))
        try:
            return _user_data(data_coding, wide, body, 0)
        except SubmitRefused as refused:
            if refused.command_status != _S.ESME_RINVMSGLEN:
                raise
    narrow = _with_sar(header, concatenation_ie(ref & 0xFF, total, seq, reference_bits=8))
    return _user_data(data_coding, narrow, body, 0)


def _sar(tlvs: Tlvs) -> tuple[int, int, int] | None:
    """SMPP 3.4 §5.3.2.22-24 sar_*: all three or none: (reference, total, sequence)."""
    ref, total, seq = (tlv_int(tlvs, tag) for tag in _SAR_TAGS)
    if ref is None and total is None and seq is None:
        return None
    if ref is None or total is None or seq is None:
        raise SubmitRefused(
            "sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together",
            _S.ESME_RMISSINGOPTPARAM,
        )
    if not (ref <= 0xFFFF and 1 <= total <= _MAX_PARTS and 1 <= seq <= total):
        raise SubmitRefused(
            f"sar: segment {seq} of {total} (reference {ref}) is out of range",
            _S.ESME_RINVOPTPARAMVAL,
        )
    return ref, total, seq


def _with_sar(header: UserDataHeader | None, sar: InformationElement) -> UserDataHeader:
    """The ESME's UDH (if any) with the SAR concatenation IE first; two concatenations clash."""
    if header is None:
        return UserDataHeader((sar,))
    if any(ie.iei in _CONCATENATION for ie in header.elements):
        raise SubmitRefused(
            "sar_* TLVs with a concatenation IE in the UDH", _S.ESME_RINVOPTPARAMVAL
        )
    return UserDataHeader((sar, *header.elements))


def _user_data(
    data_coding: int, header: UserDataHeader | None, body: bytes, reference: int
) -> tuple[int, list[UserData]]:
    """SMPP 3.4 §5.2.19 data_coding -> (TP-DCS, TP-UD per segment), TS 23.038 §4.

    0 (SMSC default alphabet) is the GSM 7-bit default alphabet, one unpacked septet per
    octet (0x1B escaping to the extension table); 1 (IA5) and 3 (Latin-1) are text sent as
    GSM 7-bit when it can be, else UCS2; 8 is UCS2 (UTF-16BE) and stays UCS2; 2 and 4 are
    8-bit data; 0xC0-0xFF are the TS 23.038 MWI and message class groups, passed on as the
    TP-DCS and read in its alphabet. Other values (JIS, Cyrillic, Hebrew, pictogram, ISO-2022-JP,
    Kanji, KS C 5601, reserved) are refused with ESME_RSUBMITFAIL: SMPP 3.4 has no status for
    an invalid data_coding. With a header (UDHI or sar_*) the message is one TPDU as sent;
    without, a message longer than one SMS is split here.
    """
    charset = _CHARSETS.get(data_coding)
    if charset is not None:
        return _text_user_data(_decode_text(body, data_coding, charset), header, reference)
    dcs = _TP_DCS.get(data_coding)
    if dcs is None and _GSM_GROUPS <= data_coding <= 0xFF:
        dcs = data_coding
    if dcs is None:
        raise SubmitRefused(f"data_coding {data_coding:#04x} is not supported", _S.ESME_RSUBMITFAIL)
    alphabet = decode_dcs(dcs).alphabet
    if alphabet == Alphabet.GSM7:
        parts = _gsm7_user_data(body, data_coding, header, reference)
    elif alphabet == Alphabet.UCS2:
        parts = _octet_user_data(body, header, reference, ucs2=True)
    else:
        parts = _octet_user_data(body, header, reference, ucs2=False)
    if header is not None:  # split by us, the parts fit by construction
        _check_fit(parts, alphabet)
    return dcs, parts


def _decode_text(body: bytes, data_coding: int, charset: str) -> str:
    """SMPP 3.4 §5.2.19 IA5 (7-bit ASCII) or Latin-1 octets as text."""
    try:
        return body.decode(charset)
    except UnicodeDecodeError:
        raise SubmitRefused(
            f"data_coding {data_coding}: an octet above 0x7F is not IA5", _S.ESME_RSUBMITFAIL
        ) from None


def _shift_tables(header: UserDataHeader) -> tuple[NationalLanguage | int, NationalLanguage | int]:
    """TS 23.038 §6.2.1.2.4: the locking and single shift tables the UDH names."""
    default = NationalLanguage.DEFAULT
    return header.locking_shift or default, header.single_shift or default


def _text_user_data(
    text: str, header: UserDataHeader | None, reference: int
) -> tuple[int, list[UserData]]:
    """TS 23.038 §6.2: text as GSM 7-bit when it can be, else UCS2; split as the HTTP API does."""
    if header is None:
        plan = _segment(text, reference)
        return dcs_for(plan.alphabet), [segment.user_data for segment in plan.segments]
    locking, single = _shift_tables(header)
    if gsm7_septet_count(text, locking, single) is None:
        parts = [UserData(header, _encode_ucs2(text), text)]
        alphabet = Alphabet.UCS2
    else:
        parts = [UserData(header, encode_gsm7(text, locking, single), text)]
        alphabet = Alphabet.GSM7
    _check_fit(parts, alphabet)
    return dcs_for(alphabet), parts


def _gsm7_user_data(
    septets: bytes, data_coding: int, header: UserDataHeader | None, reference: int
) -> list[UserData]:
    """TS 23.038 §6.2.1: unpacked septets; as sent in one TPDU under a header, else the text
    split by our codec (GSM 7-bit, the TP-DCS being fixed)."""
    if not septets.isascii():
        raise SubmitRefused(
            f"data_coding {data_coding:#04x}: an octet above 0x7F is not a GSM 7-bit septet",
            _S.ESME_RSUBMITFAIL,
        )
    if header is not None:
        return [UserData(header, septets, decode_gsm7(septets, *_shift_tables(header)))]
    plan = _segment(decode_gsm7(septets), reference)
    if plan.alphabet != Alphabet.GSM7:
        raise SubmitRefused("GSM 7-bit text needs UCS2 to be split", _S.ESME_RSUBMITFAIL)
    return [segment.user_data for segment in plan.segments]


def _octet_user_data(
    body: bytes, header: UserDataHeader | None, reference: int, *, ucs2: bool
) -> list[UserData]:
    """TS 23.040 §9.2.3.24.1: UCS2 or 8-bit octets as sent in one TPDU when they fit or come
    with a header, else parts of 134 octets with an 8-bit-reference concatenation IE (a UCS2
    surrogate pair kept in one part)."""
    if ucs2 and len(body) % 2:
        raise SubmitRefused(f"UCS2 message of odd length {len(body)}", _S.ESME_RINVMSGLEN)
    if header is not None or len(body) <= MAX_OCTETS:
        return [UserData(header, body, decode_ucs2(body) if ucs2 else None)]
    chunks = []
    start = 0
    while start < len(body):
        end = min(start + _PART_OCTETS, len(body))
        if ucs2 and end < len(body) and body[end - 2] in _HIGH_SURROGATE:
            end -= 2
        chunks.append(body[start:end])
        start = end
    if len(chunks) > _MAX_PARTS:
        raise SubmitRefused(
            f"{len(body)} octets need {len(chunks)} segments, more than {_MAX_PARTS}",
            _S.ESME_RINVMSGLEN,
        )
    return [
        UserData(
            UserDataHeader((concatenation_ie(reference, len(chunks), sequence),)),
            chunk,
            decode_ucs2(chunk) if ucs2 else None,
        )
        for sequence, chunk in enumerate(chunks, start=1)
    ]


def _segment(text: str, reference: int) -> SegmentPlan:
    """TS 23.040 §9.2.3.24.1 segment_text, its errors as SMPP statuses."""
    try:
        return segment_text(text, reference=reference, max_segments=_MAX_PARTS)
    except UnencodableTextError as exc:
        raise SubmitRefused(str(exc), _S.ESME_RSUBMITFAIL) from None
    except EncodeError as exc:
        raise SubmitRefused(str(exc), _S.ESME_RINVMSGLEN) from None


def _encode_ucs2(text: str) -> bytes:
    """TS 23.038 §6.2.3, a lone surrogate refused."""
    try:
        return encode_ucs2(text)
    except UnencodableTextError as exc:
        raise SubmitRefused(str(exc), _S.ESME_RSUBMITFAIL) from None


def _check_fit(parts: list[UserData], alphabet: Alphabet) -> None:
    """TS 23.040 §9.2.3.16: every part fits one TPDU (140 octets, 160 septets)."""
    for part in parts:
        try:
            encode_user_data(part, alphabet)
        except EncodeError as exc:
            raise SubmitRefused(f"does not fit one SMS: {exc}", _S.ESME_RINVMSGLEN) from None


def _encode(submit: SmsSubmit) -> bytes:
    """TS 23.040 §9.2.2.2: the SMS-SUBMIT's octets."""
    try:
        return encode_tpdu(submit)
    except EncodeError as exc:
        raise SubmitRefused(f"cannot build the SMS-SUBMIT: {exc}", _S.ESME_RSUBMITFAIL) from None


def _schedule(pdu: SubmitSm | DataSm, policy: SubmitPolicy, now: datetime) -> datetime | None:
    """SMPP 3.4 §5.2.15 schedule_delivery_time (§7.1.1 absolute or relative to now): None when
    empty or not in the future (deliver now); later than max_schedule ahead is refused."""
    if not isinstance(pdu, SubmitSm):
        return None
    try:
        value = parse_time(pdu.schedule_delivery_time, _S.ESME_RINVSCHED)
    except PduError as exc:
        raise SubmitRefused(str(exc), exc.command_status) from None
    if value is None:
        return None
    when = value if isinstance(value, datetime) else now + value
    if when <= now:
        return None
    if when - now > policy.max_schedule:
        raise SubmitRefused(
            f"schedule_delivery_time is more than {policy.max_schedule.days} days ahead",
            _S.ESME_RINVSCHED,
        )
    return when.astimezone(UTC)


def _expiry(
    pdu: SubmitSm | DataSm, policy: SubmitPolicy, now: datetime, start: datetime
) -> datetime:
    """SMPP 3.4 §5.2.16 validity_period (§7.1.1 absolute, or relative to now), or data_sm's
    qos_time_to_live (§5.3.2.9, seconds): when the message expires. None is the account's
    default counted from `start` (the scheduled time, or now); an end not after `start` is
    refused; more than max_validity after it is capped."""
    if isinstance(pdu, DataSm):
        seconds = tlv_int(pdu.tlvs, Tag.QOS_TIME_TO_LIVE)
        if seconds is None:
            return min(start + policy.default_validity, start + policy.max_validity)
        if seconds <= 0:
            raise SubmitRefused("qos_time_to_live is 0", _S.ESME_RINVEXPIRY)
        return min(now + timedelta(seconds=seconds), start + policy.max_validity)
    text = pdu.validity_period
    try:
        value = parse_time(text, _S.ESME_RINVEXPIRY)
    except PduError as exc:
        raise SubmitRefused(str(exc), exc.command_status) from None
    longest = start + policy.max_validity
    if value is None:
        return min(start + policy.default_validity, longest)
    end = value if isinstance(value, datetime) else now + value
    if end <= start:
        what = "now" if start == now else "schedule_delivery_time"
        raise SubmitRefused(f"validity_period does not end after {what}", _S.ESME_RINVEXPIRY)
    return min(end.astimezone(UTC), longest)


def _receipt(registered_delivery: int, system_id: str) -> tuple[bool, str]:
    """SMPP 3.4 §5.2.17 bits 1-0: (status_report, source) of the stored message; 3 (reserved)
    is taken as 1. The receipt is the SMSC's: TP-SRR stays 0."""
    receipt = registered_delivery & RegisteredDelivery.SMSC_RECEIPT_MASK
    if receipt == RegisteredDelivery.RECEIPT_ON_FAILURE:
        return True, smpp_source(system_id, failure_only=True)
    return receipt != RegisteredDelivery.NO_RECEIPT, smpp_source(system_id)
