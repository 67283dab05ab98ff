"""Every vector, field by field against its independent decoding, and re-encoded byte-exact."""

from __future__ import annotations

from typing import Any

import pytest

from smsc.sms.address import Address
from smsc.sms.errors import DecodeError
from smsc.sms.rp import RpAck, RpData, RpError, RpSmma, decode_rp, encode_rp
from smsc.sms.tp import (
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    Tpdu,
    decode_tpdu,
    encode_tpdu,
)
from smsc.sms.validity import RelativeValidity
from tests.vectors import load_vectors

VECTORS = load_vectors()

# Where we knowingly differ from Wireshark, and why.
TP_ADDRESS_OVERRIDES = {
    # Length 14 for 7 characters (libosmocore); Wireshark shows the padding septet as '@'.
    "mt-rpdata-deliver-alnum-oa-openbsc": "OpenBSC",
}
# Accepted by Wireshark without an error, but not valid: we reject them.
STRICTER_THAN_WIRESHARK = {"bad-rp-mti-reserved": 97}


def _is_malformed(vector: dict[str, Any]) -> bool:
    decoded = vector["tshark_decoded"]
    errors = [a for a in decoded["anomalies"] if a["severity"] == "Error"]
    return bool(decoded["malformed"] or errors) or vector["id"] in STRICTER_THAN_WIRESHARK


VALID = [v for v in VECTORS if not _is_malformed(v)]
MALFORMED = [v for v in VECTORS if _is_malformed(v)]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def _check_rp_address(address: Address | None, expected: dict[str, Any] | None) -> None:
    if expected is None or expected["length"] == 0:
        assert address is None
        return
    assert address is not None
    assert address.value == expected["digits"]
    assert address.ton == expected["ton"]
    assert address.npi == expected["npi"]


def _check_tp_address(vector_id: str, address: Address, expected: dict[str, Any]) -> None:
    assert address.value == TP_ADDRESS_OVERRIDES.get(vector_id, expected["digits"])
    assert address.ton == expected["ton"]
    assert address.npi == expected["npi"]
    assert address.is_alphanumeric == expected["alphanumeric"]


def _check_scts(moment: Any, expected: dict[str, Any], index: int = 0) -> None:
    def field(name: str) -> int:
        value = expected[f"gsm_sms.scts.{name}"]
        return int(value[index] if isinstance(value, list) else value)

    assert moment.year % 100 == field("year")
    assert (moment.month, moment.day) == (field("month"), field("day"))
    assert (moment.hour, moment.minute, moment.second) == (
        field("hour"),
        field("minutes"),
        field("seconds"),
    )
    # Wireshark prints the zone as quarter hours.
    assert moment.utcoffset().total_seconds() == field("timezone") * 15 * 60


def _check_tp(vector_id: str, tpdu: Tpdu, tp: dict[str, Any]) -> None:
    fields = tp.get("fields", {})
    assert tpdu.message_type.name.replace("_", "-") == tp["name"]
    if "udhi" in tp:
        header = getattr(tpdu, "user_data", None)
        assert (header is not None and header.header is not None) == bool(tp["udhi"])
    if isinstance(tpdu, SmsSubmit):
        assert tpdu.message_reference == tp["mr"]
        assert (tpdu.status_report_request, tpdu.reject_duplicates, tpdu.reply_path) == (
            bool(tp["srr"]),
            bool(tp["rd"]),
            bool(tp["rp"]),
        )
        _check_tp_address(vector_id, tpdu.destination, tp["da"])
        if "vp" in tp:
            assert isinstance(tpdu.validity, RelativeValidity)
            assert tpdu.validity.value == int(tp["vp"]["gsm_sms.vp.validity_period"])
        assert tp["vpf"] == (0 if tpdu.validity is None else 2)
    if isinstance(tpdu, SmsDeliver):
        _check_tp_address(vector_id, tpdu.originator, tp["oa"])
        assert tpdu.no_more_messages == bool(tp["mms"])
        assert tpdu.loop_prevention == bool(tp["lp"])
        assert tpdu.status_report_indication == bool(tp["sri"])
        assert tpdu.reply_path == bool(tp["rp"])
        _check_scts(tpdu.scts, tp["scts"])
    if isinstance(tpdu, SmsSubmit | SmsDeliver):
        assert (tpdu.pid, tpdu.dcs) == (tp["pid"], tp["dcs"])
        if "text" in tp:
            assert tpdu.user_data.text == tp["text"]
        if "gsm_sms.sms_body" in fields:
            assert tpdu.user_data.body.hex(":") == fields["gsm_sms.sms_body"]
        if "udh" in tp:
            header = tpdu.user_data.header
            assert header is not None
            assert [ie.iei for ie in header.elements] == [ie["iei"] for ie in tp["udh"]["ies"]]
            for ie in tp["udh"]["ies"]:
                if "udh.mm.msg_id" in ie:
                    concat = header.concatenation
                    assert concat is not None
                    assert (concat.reference, concat.total, concat.sequence) == (
                        int(ie["udh.mm.msg_id"]),
                        int(ie["udh.mm.msg_parts"]),
                        int(ie["udh.mm.msg_part"]),
                    )
                if "destination_port" in ie:
                    ports = header.ports
                    assert ports is not None
                    assert (ports.destination, ports.source) == (
                        int(ie["destination_port"]),
                        int(ie["originator_port"]),
                    )
    if isinstance(tpdu, SmsStatusReport):
        assert tpdu.message_reference == tp["mr"]
        assert tpdu.status_report_qualifier == bool(tp["srq"])
        assert tpdu.no_more_messages == bool(tp["mms"])
        _check_tp_address(vector_id, tpdu.recipient, tp["ra"])
        _check_scts(tpdu.scts, tp["scts"], 0)
        _check_scts(tpdu.discharge_time, tp["scts"], 1)
        assert (
            tpdu.status
            == int(fields["gsm_sms.dis.field_st_reason"])
            | int(fields["gsm_sms.dis_field.st_error"]) << 5
            | int(fields["gsm_sms.dis_field.definition"]) << 7
        )
    if isinstance(tpdu, SmsDeliverReport | SmsSubmitReport):
        assert tpdu.failure_cause == tp.get("fcs")
        if "gsm_sms.tp.parameter_indicator" in fields:
            assert tpdu.parameter_indicator == int(fields["gsm_sms.tp.parameter_indicator"], 16)


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_matches_independent_decoding(vector: dict[str, Any]) -> None:
    body = bytes.fromhex(vector["hex"])
    expected = vector["tshark_decoded"]
    message = decode_rp(body)
    rp = expected["rp"]
    assert message.message_type == rp["msg_type"]
    assert message.message_reference == rp["mr"]
    if isinstance(message, RpData):
        _check_rp_address(message.originator, rp["oa"])
        _check_rp_address(message.destination, rp["da"])
        assert len(message.user_data) == rp["user_data_len"]
        assert rp["user_data_iei"] is None
    elif isinstance(message, RpAck | RpError):
        if message.user_data is None:
            assert rp["user_data_len"] is None
        else:
            assert len(message.user_data) == rp["user_data_len"]
            assert rp["user_data_iei"] == 0x41
    if isinstance(message, RpError):
        assert message.cause == rp["cause"]["value"]
        assert message.diagnostic == rp["cause"]["diagnostic"]
    else:
        assert rp["cause"] is None
    if isinstance(message, RpSmma) or message.user_data is None:
        assert expected["tp"] is None
        return
    tpdu = decode_tpdu(message.user_data, message.message_type)
    _check_tp(vector["id"], tpdu, expected["tp"])


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_reencodes_byte_exact(vector: dict[str, Any]) -> None:
    body = bytes.fromhex(vector["hex"])
    message = decode_rp(body)
    assert encode_rp(message) == body
    if not isinstance(message, RpSmma) and message.user_data is not None:
        assert encode_tpdu(decode_tpdu(message.user_data, message.message_type)) == (
            message.user_data
        )


@pytest.mark.parametrize("vector", MALFORMED, ids=_ids(MALFORMED))
def test_malformed_vector_is_rejected_with_rp_cause(vector: dict[str, Any]) -> None:
    body = bytes.fromhex(vector["hex"])
    with pytest.raises(DecodeError) as info:
        message = decode_rp(body)
        if not isinstance(message, RpSmma) and message.user_data is not None:
            decode_tpdu(message.user_data, message.message_type)
    assert info.value.rp_cause in (95, 96, 97, 99)
    if vector["id"] in STRICTER_THAN_WIRESHARK:
        assert info.value.rp_cause == STRICTER_THAN_WIRESHARK[vector["id"]]


def test_the_corpus_covers_every_rp_message_type() -> None:
    types = {decode_rp(bytes.fromhex(v["hex"])).message_type for v in VALID}
    assert len(types) == 7
