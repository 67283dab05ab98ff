"""Decoded SMS as plain JSON-ready data: the `smsc decode` schema (docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from smsc.sms.address import Address
from smsc.sms.constants import Alphabet, RpMessageType, TpMessageType
from smsc.sms.dcs import decode_dcs
from smsc.sms.rp import RpAck, RpData, RpError, RpMessage, RpSmma, decode_rp
from smsc.sms.tp import (
    SmsCommand,
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    Tpdu,
    decode_tpdu,
)
from smsc.sms.user_data import UserData, encode_user_data
from smsc.sms.validity import (
    AbsoluteValidity,
    RelativeValidity,
    ValidityPeriod,
    validity_format,
)

Json = dict[str, Any]

_RP_NAMES = {
    RpMessageType.RP_DATA_MS_TO_N: "RP-DATA",
    RpMessageType.RP_DATA_N_TO_MS: "RP-DATA",
    RpMessageType.RP_ACK_MS_TO_N: "RP-ACK",
    RpMessageType.RP_ACK_N_TO_MS: "RP-ACK",
    RpMessageType.RP_ERROR_MS_TO_N: "RP-ERROR",
    RpMessageType.RP_ERROR_N_TO_MS: "RP-ERROR",
    RpMessageType.RP_SMMA_MS_TO_N: "RP-SMMA",
}
_TP_NAMES = {
    TpMessageType.SMS_DELIVER: ("SMS-DELIVER", 0),
    TpMessageType.SMS_SUBMIT_REPORT: ("SMS-SUBMIT-REPORT", 1),
    TpMessageType.SMS_STATUS_REPORT: ("SMS-STATUS-REPORT", 2),
    TpMessageType.SMS_DELIVER_REPORT: ("SMS-DELIVER-REPORT", 0),
    TpMessageType.SMS_SUBMIT: ("SMS-SUBMIT", 1),
    TpMessageType.SMS_COMMAND: ("SMS-COMMAND", 2),
}
_ENCODINGS = {Alphabet.GSM7: "gsm7", Alphabet.EIGHT_BIT: "8bit", Alphabet.UCS2: "ucs2"}


def describe_address(address: Address | None) -> Json | None:
    """ADDR of the `smsc decode` schema."""
    if address is None:
        return None
    key = "text" if address.is_alphanumeric else "digits"
    return {"ton": int(address.ton), "npi": int(address.npi), key: address.value}


def describe_rp(message: RpMessage) -> Json:
    """The "rp" object of the `smsc decode` schema."""
    mti = message.message_type
    out: Json = {
        "type": _RP_NAMES[mti],
        "mti": int(mti),
        "direction": "ms-to-network" if mti.is_mobile_originated else "network-to-ms",
        "mr": message.message_reference,
        "originator": None,
        "destination": None,
        "cause": None,
        "user_data_hex": None,
    }
    if isinstance(message, RpData):
        out["originator"] = describe_address(message.originator)
        out["destination"] = describe_address(message.destination)
        out["user_data_hex"] = message.user_data.hex()
    elif isinstance(message, RpError):
        out["cause"] = {"value": message.cause, "diagnostic": message.diagnostic}
    if isinstance(message, RpAck | RpError) and message.user_data is not None:
        out["user_data_hex"] = message.user_data.hex()
    return out


def _validity(validity: ValidityPeriod | None) -> Json | None:
    if validity is None:
        return None
    if isinstance(validity, RelativeValidity):
        return {
            "format": "relative",
            "value": validity.value,
            "seconds": int(validity.duration.total_seconds()),
        }
    if isinstance(validity, AbsoluteValidity):
        return {"format": "absolute", "until": validity.until.isoformat()}
    duration = validity.duration
    return {
        "format": "enhanced",
        "octets_hex": validity.octets.hex(),
        "single_shot": validity.single_shot,
        "seconds": None if duration is None else int(duration.total_seconds()),
    }


def _user_data(out: Json, dcs: int | None, user_data: UserData | None) -> None:
    coding = decode_dcs(dcs or 0)
    if dcs is not None:
        out["dcs"] = dcs
        out["encoding"] = _ENCODINGS[coding.alphabet]
        out["message_class"] = None if coding.message_class is None else int(coding.message_class)
        out["compressed"] = coding.compressed
    if user_data is None:
        return
    alphabet = Alphabet.EIGHT_BIT if coding.compressed else coding.alphabet
    udl, ud = encode_user_data(user_data, alphabet)
    header = user_data.header
    out["udl"] = udl
    out["udh"] = (
        None
        if header is None
        else [{"iei": ie.iei, "data_hex": ie.data.hex()} for ie in header.elements]
    )
    concat = None if header is None else header.concatenation
    out["concat"] = (
        None
        if concat is None
        else {
            "ref": concat.reference,
            "total": concat.total,
            "seq": concat.sequence,
            "ref_bits": concat.reference_bits,
        }
    )
    ports = None if header is None else header.ports
    if ports is not None:
        out["ports"] = {"destination": ports.destination, "source": ports.source}
    out["text"] = user_data.text
    out["user_data_hex"] = ud.hex()
    if alphabet != Alphabet.GSM7:
        out["body_hex"] = user_data.body.hex()


def describe_tpdu(tpdu: Tpdu) -> Json:
    """The "tp" object of the `smsc decode` schema."""
    name, mti = _TP_NAMES[tpdu.message_type]
    out: Json = {"type": name, "mti": mti}
    if isinstance(tpdu, SmsDeliver):
        out |= {
            "originator": describe_address(tpdu.originator),
            "pid": tpdu.pid,
            "sri": tpdu.status_report_indication,
            "mms": tpdu.no_more_messages,
            "lp": tpdu.loop_prevention,
            "rp": tpdu.reply_path,
            "udhi": tpdu.user_data.header is not None,
            "scts": tpdu.scts.isoformat(),
        }
        _user_data(out, tpdu.dcs, tpdu.user_data)
    elif isinstance(tpdu, SmsSubmit):
        out |= {
            "mr": tpdu.message_reference,
            "destination": describe_address(tpdu.destination),
            "pid": tpdu.pid,
            "srr": tpdu.status_report_request,
            "rd": tpdu.reject_duplicates,
            "rp": tpdu.reply_path,
            "udhi": tpdu.user_data.header is not None,
            "vpf": int(validity_format(tpdu.validity)),
            "validity": _validity(tpdu.validity),
        }
        _user_data(out, tpdu.dcs, tpdu.user_data)
    elif isinstance(tpdu, SmsStatusReport):
        out |= {
            "mr": tpdu.message_reference,
            "recipient": describe_address(tpdu.recipient),
            "srq": tpdu.status_report_qualifier,
            "mms": tpdu.no_more_messages,
            "lp": tpdu.loop_prevention,
            "udhi": tpdu.user_data is not None and tpdu.user_data.header is not None,
            "scts": tpdu.scts.isoformat(),
            "discharge_time": tpdu.discharge_time.isoformat(),
            "status": tpdu.status,
            "pi": tpdu.parameter_indicator,
            "pid": tpdu.pid,
        }
        _user_data(out, tpdu.dcs, tpdu.user_data)
    elif isinstance(tpdu, SmsCommand):
        out |= {
            "mr": tpdu.message_reference,
            "pid": tpdu.pid,
            "srr": tpdu.status_report_request,
            "udhi": tpdu.user_data_header_indicator,
            "command_type": tpdu.command_type,
            "message_number": tpdu.message_number,
            "destination": describe_address(tpdu.destination),
            "command_data_hex": tpdu.command_data.hex(),
        }
    else:
        _describe_report(out, tpdu)
    return out


def _describe_report(out: Json, tpdu: SmsSubmitReport | SmsDeliverReport) -> None:
    out |= {
        "udhi": tpdu.user_data is not None and tpdu.user_data.header is not None,
        "failure_cause": tpdu.failure_cause,
        "pi": tpdu.parameter_indicator,
        "pid": tpdu.pid,
    }
    if isinstance(tpdu, SmsSubmitReport):
        out["scts"] = tpdu.scts.isoformat()
    _user_data(out, tpdu.dcs, tpdu.user_data)


def tpdu_of(message: RpMessage) -> bytes | None:
    """The TPDU an RP message carries, if any."""
    if isinstance(message, RpSmma):
        return None
    return message.user_data


def describe_body(body: bytes) -> Json:
    """Decode an application/vnd.3gpp.sms body to {"rp": ..., "tp": ...}; raises DecodeError."""
    message = decode_rp(body)
    tpdu = tpdu_of(message)
    return {
        "rp": describe_rp(message),
        "tp": None if tpdu is None else describe_tpdu(decode_tpdu(tpdu, message.message_type)),
    }
