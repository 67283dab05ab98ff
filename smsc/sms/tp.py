"""TS 23.040 §9.2.2 TPDUs: SMS-DELIVER, -SUBMIT, -STATUS-REPORT, -COMMAND and the two reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from smsc.sms.address import Address, decode_tp_address, encode_tp_address
from smsc.sms.constants import (
    Alphabet,
    RpMessageType,
    TpFailureCause,
    TpMessageType,
    ValidityPeriodFormat,
)
from smsc.sms.dcs import DataCoding, decode_dcs
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.records import positional_constructor
from smsc.sms.timestamps import decode_timestamp, encode_timestamp
from smsc.sms.user_data import UserData, decode_user_data, encode_user_data
from smsc.sms.validity import ValidityPeriod, decode_validity, encode_validity, validity_format

MAX_COMMAND_DATA = 157
"""TS 23.040 §9.2.3.21: TP-CD is at most 157 octets."""

_PI_PID, _PI_DCS, _PI_UDL, _PI_EXTENSION = 0x01, 0x02, 0x04, 0x80
_UDHI, _EIGHT_BIT = 0x40, Alphabet.EIGHT_BIT
_VPF = tuple(ValidityPeriodFormat(v) for v in range(4))


def _alphabet(coding: DataCoding) -> Alphabet:
    # TS 23.040 §9.2.3.16: compressed user data is counted and carried in octets.
    return _EIGHT_BIT if coding.compressed else coding.alphabet


_UD_ALPHABET: tuple[Alphabet, ...] = tuple(_alphabet(decode_dcs(dcs)) for dcs in range(256))


@dataclass(frozen=True, slots=True)
class SmsDeliver:
    """TS 23.040 §9.2.2.1."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_DELIVER
    originator: Address
    pid: int
    dcs: int
    scts: datetime
    user_data: UserData
    no_more_messages: bool = True
    """TP-MMS as on the wire: True (bit set) means no more messages are waiting."""
    loop_prevention: bool = False
    status_report_indication: bool = False
    reply_path: bool = False

    @property
    def coding(self) -> DataCoding:
        return decode_dcs(self.dcs)


@dataclass(frozen=True, slots=True)
class SmsSubmit:
    """TS 23.040 §9.2.2.2."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_SUBMIT
    message_reference: int
    destination: Address
    pid: int
    dcs: int
    user_data: UserData
    validity: ValidityPeriod | None = None
    reject_duplicates: bool = False
    status_report_request: bool = False
    reply_path: bool = False

    @property
    def coding(self) -> DataCoding:
        return decode_dcs(self.dcs)


@dataclass(frozen=True, slots=True)
class SmsStatusReport:
    """TS 23.040 §9.2.2.3."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_STATUS_REPORT
    message_reference: int
    recipient: Address
    scts: datetime
    discharge_time: datetime
    status: int
    no_more_messages: bool = True
    loop_prevention: bool = False
    status_report_qualifier: bool = False
    """TP-SRQ: False reports on an SMS-SUBMIT, True on an SMS-COMMAND."""
    parameter_indicator: int | None = None
    """TP-PI as received less its extension bit (None when absent); presence bits are
    recomputed on encode."""
    pid: int | None = None
    dcs: int | None = None
    user_data: UserData | None = None


@dataclass(frozen=True, slots=True)
class SmsSubmitReport:
    """TS 23.040 §9.2.2.2a; `failure_cause` is present in the RP-ERROR form only."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_SUBMIT_REPORT
    scts: datetime
    failure_cause: int | None = None
    parameter_indicator: int = 0
    pid: int | None = None
    dcs: int | None = None
    user_data: UserData | None = None


@dataclass(frozen=True, slots=True)
class SmsDeliverReport:
    """TS 23.040 §9.2.2.1a; `failure_cause` is present in the RP-ERROR form only."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_DELIVER_REPORT
    failure_cause: int | None = None
    parameter_indicator: int = 0
    pid: int | None = None
    dcs: int | None = None
    user_data: UserData | None = None


@dataclass(frozen=True, slots=True)
class SmsCommand:
    """TS 23.040 §9.2.2.4."""

    message_type: ClassVar[TpMessageType] = TpMessageType.SMS_COMMAND
    message_reference: int
    pid: int
    command_type: int
    message_number: int
    destination: Address
    command_data: bytes = b""
    status_report_request: bool = False
    user_data_header_indicator: bool = False


_new_deliver = positional_constructor(SmsDeliver)
_new_submit = positional_constructor(SmsSubmit)
_new_status_report = positional_constructor(SmsStatusReport)

Tpdu = SmsDeliver | SmsSubmit | SmsStatusReport | SmsSubmitReport | SmsDeliverReport | SmsCommand
Report = SmsSubmitReport | SmsDeliverReport

# (RP MTI, TP MTI) -> TPDU kind, TS 23.040 §9.2.3.1 with the RP carrier of TS 24.011 §7.3.
_KIND: dict[tuple[int, int], TpMessageType] = {
    (RpMessageType.RP_DATA_MS_TO_N, 1): TpMessageType.SMS_SUBMIT,
    (RpMessageType.RP_DATA_MS_TO_N, 2): TpMessageType.SMS_COMMAND,
    (RpMessageType.RP_DATA_N_TO_MS, 0): TpMessageType.SMS_DELIVER,
    (RpMessageType.RP_DATA_N_TO_MS, 2): TpMessageType.SMS_STATUS_REPORT,
    (RpMessageType.RP_ACK_MS_TO_N, 0): TpMessageType.SMS_DELIVER_REPORT,
    (RpMessageType.RP_ERROR_MS_TO_N, 0): TpMessageType.SMS_DELIVER_REPORT,
    (RpMessageType.RP_ACK_N_TO_MS, 1): TpMessageType.SMS_SUBMIT_REPORT,
    (RpMessageType.RP_ERROR_N_TO_MS, 1): TpMessageType.SMS_SUBMIT_REPORT,
}


def tpdu_kind(first_octet: int, rp_mti: RpMessageType) -> TpMessageType:
    """TS 23.040 §9.2.3.1: the TPDU type from TP-MTI and the RP message that carries it."""
    kind = _KIND.get((rp_mti, first_octet & 0x3))
    if kind is None:
        raise _unsupported(first_octet, rp_mti)
    return kind


def _unsupported(first_octet: int, rp_mti: RpMessageType) -> TpduDecodeError:
    return TpduDecodeError(
        f"TP-MTI {first_octet & 0x3} is not valid in {RpMessageType(rp_mti).name}",
        TpFailureCause.TPDU_NOT_SUPPORTED,
    )


def _octet(data: bytes, offset: int, name: str) -> int:
    if offset >= len(data):
        raise TpduDecodeError(f"{name} missing: TPDU truncated")
    return data[offset]


def _user_data(data: bytes, offset: int, dcs: int, udhi: bool) -> UserData:
    """TP-UDL at `offset` and TP-UD up to the end of the TPDU."""
    udl = _octet(data, offset, "TP-UDL")
    return decode_user_data(udl, data[offset + 1 :], _UD_ALPHABET[dcs], udhi)


def _decode_deliver(data: bytes) -> SmsDeliver:
    fo = data[0]
    originator, i = decode_tp_address(data, 1)
    if i + 10 > len(data):
        raise TpduDecodeError("SMS-DELIVER truncated")
    dcs = data[i + 1]
    return _new_deliver(
        originator,
        data[i],
        dcs,
        decode_timestamp(data, i + 2),
        decode_user_data(data[i + 9], data[i + 10 :], _UD_ALPHABET[dcs], fo & _UDHI != 0),
        fo & 0x04 != 0,
        fo & 0x08 != 0,
        fo & 0x20 != 0,
        fo & 0x80 != 0,
    )


def _decode_submit(data: bytes) -> SmsSubmit:
    fo = data[0]
    destination, i = decode_tp_address(data, 2)
    if i + 2 > len(data):
        raise TpduDecodeError("SMS-SUBMIT truncated")
    pid = data[i]
    dcs = data[i + 1]
    validity, i = decode_validity(_VPF[(fo >> 3) & 0x3], data, i + 2)
    if i >= len(data):
        raise TpduDecodeError("TP-UDL missing: TPDU truncated")
    return _new_submit(
        data[1],
        destination,
        pid,
        dcs,
        decode_user_data(data[i], data[i + 1 :], _UD_ALPHABET[dcs], fo & _UDHI != 0),
        validity,
        fo & 0x04 != 0,
        fo & 0x20 != 0,
        fo & 0x80 != 0,
    )


def _decode_optional(
    data: bytes, offset: int, udhi: bool
) -> tuple[int | None, int | None, int | None, UserData | None]:
    """TS 23.040 §9.2.3.27: TP-PI and the optional TP-PID, TP-DCS, TP-UDL/UD it announces."""
    if offset == len(data):
        return None, None, None, None
    pi = data[offset]
    i = offset + 1
    # Extension octets define nothing yet (TS 23.040 §9.2.3.27): skipped, and the bit dropped.
    while data[i - 1] & _PI_EXTENSION:
        _octet(data, i, "TP-PI extension")
        i += 1
    pi &= ~_PI_EXTENSION
    pid = dcs = None
    user_data = None
    if pi & _PI_PID:
        pid = _octet(data, i, "TP-PID")
        i += 1
    if pi & _PI_DCS:
        dcs = _octet(data, i, "TP-DCS")
        i += 1
    if pi & _PI_UDL:
        user_data = _user_data(data, i, dcs or 0, udhi)
        i = len(data)
    if i != len(data):
        raise TpduDecodeError(f"{len(data) - i} octets after the last TPDU parameter")
    return pi, pid, dcs, user_data


def _decode_status_report(data: bytes) -> SmsStatusReport:
    fo = data[0]
    mr = _octet(data, 1, "TP-MR")
    recipient, i = decode_tp_address(data, 2)
    scts = decode_timestamp(data, i)
    discharge = decode_timestamp(data, i + 7)
    status = _octet(data, i + 14, "TP-ST")
    pi, pid, dcs, user_data = _decode_optional(data, i + 15, bool(fo & _UDHI))
    return _new_status_report(
        mr,
        recipient,
        scts,
        discharge,
        status,
        bool(fo & 0x04),
        bool(fo & 0x08),
        bool(fo & 0x20),
        pi,
        pid,
        dcs,
        user_data,
    )


def _decode_report(data: bytes, kind: TpMessageType, with_fcs: bool) -> Report:
    fo = data[0]
    i = 1
    fcs = None
    if with_fcs:
        fcs = _octet(data, 1, "TP-FCS")
        i = 2
    _octet(data, i, "TP-PI")
    if kind == TpMessageType.SMS_DELIVER_REPORT:
        pi, pid, dcs, user_data = _decode_optional(data, i, bool(fo & _UDHI))
        return SmsDeliverReport(fcs, pi or 0, pid, dcs, user_data)
    # SMS-SUBMIT-REPORT: TP-SCTS follows TP-PI and precedes the optional parameters.
    scts = decode_timestamp(data, i + 1)
    rest = data[: i + 1] + data[i + 8 :]
    pi, pid, dcs, user_data = _decode_optional(rest, i, bool(fo & _UDHI))
    return SmsSubmitReport(scts, fcs, pi or 0, pid, dcs, user_data)


def _decode_command(data: bytes) -> SmsCommand:
    fo = data[0]
    if len(data) < 5:
        raise TpduDecodeError("SMS-COMMAND truncated")
    mr, pid, ct, mn = data[1], data[2], data[3], data[4]
    destination, i = decode_tp_address(data, 5)
    cdl = _octet(data, i, "TP-CDL")
    command_data = data[i + 1 :]
    if cdl != len(command_data) or cdl > MAX_COMMAND_DATA:
        raise TpduDecodeError(
            f"TP-CDL {cdl} does not match the {len(command_data)} octets of TP-CD",
            TpFailureCause.UNSPECIFIED_TP_COMMAND_ERROR,
        )
    return SmsCommand(mr, pid, ct, mn, destination, command_data, bool(fo & 0x20), bool(fo & _UDHI))


def _decoder(kind: TpMessageType, rp_mti: RpMessageType) -> Callable[[bytes], Tpdu]:
    if kind == TpMessageType.SMS_DELIVER:
        return _decode_deliver
    if kind == TpMessageType.SMS_SUBMIT:
        return _decode_submit
    if kind == TpMessageType.SMS_STATUS_REPORT:
        return _decode_status_report
    if kind == TpMessageType.SMS_COMMAND:
        return _decode_command
    with_fcs = rp_mti in (RpMessageType.RP_ERROR_MS_TO_N, RpMessageType.RP_ERROR_N_TO_MS)
    return lambda data: _decode_report(data, kind, with_fcs)


# Indexed by RP-MTI * 4 + TP-MTI: the decoder, or None where the pair is not valid.
_DECODERS: tuple[Callable[[bytes], Tpdu] | None, ...] = tuple(
    _decoder(_KIND[(rp, tp)], RpMessageType(rp)) if (rp, tp) in _KIND else None
    for rp in range(8)
    for tp in range(4)
)


def decode_tpdu(data: bytes, rp_mti: RpMessageType) -> Tpdu:
    """TS 23.040 §9.2.2: a TPDU, its direction and form taken from the carrying RP message."""
    if not data:
        raise TpduDecodeError("empty TPDU")
    decoder = _DECODERS[(rp_mti & 0x7) << 2 | data[0] & 0x3]
    if decoder is None:
        raise _unsupported(data[0], rp_mti)
    return decoder(data)


def _encode_user_data(user_data: UserData, dcs: int) -> tuple[int, bytes]:
    udl, ud = encode_user_data(user_data, _alphabet(decode_dcs(dcs)))
    return udl, bytes((udl,)) + ud


def _udhi(user_data: UserData | None) -> int:
    return _UDHI if user_data is not None and user_data.header is not None else 0


def _check_octet(name: str, value: int) -> None:
    if not 0 <= value <= 255:
        raise EncodeError(f"{name} {value} is not an octet")


def _encode_optional(
    pi: int | None, pid: int | None, dcs: int | None, user_data: UserData | None
) -> bytes:
    """TS 23.040 §9.2.3.27: TP-PI (reserved bits kept) and the parameters it announces."""
    present = (
        (_PI_PID if pid is not None else 0)
        | (_PI_DCS if dcs is not None else 0)
        | (_PI_UDL if user_data is not None else 0)
    )
    if pi is None and not present:
        return b""
    out = bytearray(((pi or 0) & 0x78 | present,))
    for name, value in (("TP-PID", pid), ("TP-DCS", dcs)):
        if value is not None:
            _check_octet(name, value)
            out.append(value)
    if user_data is not None:
        out += _encode_user_data(user_data, dcs or 0)[1]
    return bytes(out)


def encode_tpdu(tpdu: Tpdu) -> bytes:
    """TS 23.040 §9.2.2: the octets of a TPDU."""
    if isinstance(tpdu, SmsDeliver):
        fo = (
            0x00
            | (0x04 if tpdu.no_more_messages else 0)
            | (0x08 if tpdu.loop_prevention else 0)
            | (0x20 if tpdu.status_report_indication else 0)
            | _udhi(tpdu.user_data)
            | (0x80 if tpdu.reply_path else 0)
        )
        _check_octet("TP-PID", tpdu.pid)
        _check_octet("TP-DCS", tpdu.dcs)
        return (
            bytes((fo,))
            + encode_tp_address(tpdu.originator)
            + bytes((tpdu.pid, tpdu.dcs))
            + encode_timestamp(tpdu.scts)
            + _encode_user_data(tpdu.user_data, tpdu.dcs)[1]
        )
    if isinstance(tpdu, SmsSubmit):
        fo = (
            0x01
            | (0x04 if tpdu.reject_duplicates else 0)
            | validity_format(tpdu.validity) << 3
            | (0x20 if tpdu.status_report_request else 0)
            | _udhi(tpdu.user_data)
            | (0x80 if tpdu.reply_path else 0)
        )
        for name, value in (
            ("TP-MR", tpdu.message_reference),
            ("TP-PID", tpdu.pid),
            ("TP-DCS", tpdu.dcs),
        ):
            _check_octet(name, value)
        return (
            bytes((fo, tpdu.message_reference))
            + encode_tp_address(tpdu.destination)
            + bytes((tpdu.pid, tpdu.dcs))
            + encode_validity(tpdu.validity)
            + _encode_user_data(tpdu.user_data, tpdu.dcs)[1]
        )
    if isinstance(tpdu, SmsStatusReport):
        fo = (
            0x02
            | (0x04 if tpdu.no_more_messages else 0)
            | (0x08 if tpdu.loop_prevention else 0)
            | (0x20 if tpdu.status_report_qualifier else 0)
            | _udhi(tpdu.user_data)
        )
        _check_octet("TP-MR", tpdu.message_reference)
        _check_octet("TP-ST", tpdu.status)
        return (
            bytes((fo, tpdu.message_reference))
            + encode_tp_address(tpdu.recipient)
            + encode_timestamp(tpdu.scts)
            + encode_timestamp(tpdu.discharge_time)
            + bytes((tpdu.status,))
            + _encode_optional(tpdu.parameter_indicator, tpdu.pid, tpdu.dcs, tpdu.user_data)
        )
    if isinstance(tpdu, SmsCommand):
        for name, value in (
            ("TP-MR", tpdu.message_reference),
            ("TP-PID", tpdu.pid),
            ("TP-CT", tpdu.command_type),
            ("TP-MN", tpdu.message_number),
        ):
            _check_octet(name, value)
        if len(tpdu.command_data) > MAX_COMMAND_DATA:
            raise EncodeError(f"TP-CD is {len(tpdu.command_data)} octets, at most 157 fit")
        fo = (
            0x02
            | (0x20 if tpdu.status_report_request else 0)
            | (_UDHI if tpdu.user_data_header_indicator else 0)
        )
        return (
            bytes((fo, tpdu.message_reference, tpdu.pid, tpdu.command_type, tpdu.message_number))
            + encode_tp_address(tpdu.destination)
            + bytes((len(tpdu.command_data),))
            + tpdu.command_data
        )
    return _encode_report(tpdu)


def _encode_report(tpdu: Report) -> bytes:
    mti = 0x01 if isinstance(tpdu, SmsSubmitReport) else 0x00
    head = bytearray((mti | _udhi(tpdu.user_data),))
    if tpdu.failure_cause is not None:
        _check_octet("TP-FCS", tpdu.failure_cause)
        head.append(tpdu.failure_cause)
    optional = _encode_optional(tpdu.parameter_indicator, tpdu.pid, tpdu.dcs, tpdu.user_data)
    if isinstance(tpdu, SmsSubmitReport):
        # TP-SCTS sits between TP-PI and the optional parameters.
        return bytes(head) + optional[:1] + encode_timestamp(tpdu.scts) + optional[1:]
    return bytes(head) + optional
