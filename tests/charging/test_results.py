"""CCA decoding (against python-diameter's own CCAs) and the result-code table."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging.avp import CcaResult, ExperimentalResult, decode_cca
from charging.errors import CcaDecodeError, ChargingError
from charging.results import (
    DELIVER_FREE,
    FAILOVER,
    PROCEED,
    RESULT_TABLE,
    DeliverFree,
    Failover,
    Proceed,
    Reject,
    ResultCode,
    deciding_code,
    outcome_for_code,
    outcome_of,
)
from smsc.errors import RemoteProtocolError
from smsc.sms.constants import RpCause
from tests.charging.oracle import build_cca

RC = ResultCode

# The table as specified, written out: code -> (kind, RP-Cause, permanent).
EXPECTED = {
    1001: ("failover", None, None),
    2001: ("proceed", None, None),
    2002: ("proceed", None, None),
    **{code: ("failover", None, None) for code in range(3001, 3011)},
    4001: ("reject", 41, False),
    4002: ("reject", 42, False),
    4003: ("failover", None, None),
    4010: ("reject", 50, True),
    4011: ("free", None, None),
    4012: ("reject", 21, True),
    5001: ("reject", 38, False),
    5002: ("reject", 38, False),
    5003: ("reject", 50, True),
    5004: ("reject", 38, False),
    5005: ("reject", 38, False),
    5006: ("reject", 21, True),
    5007: ("reject", 38, False),
    5008: ("reject", 38, False),
    5009: ("reject", 38, False),
    5010: ("reject", 38, False),
    5011: ("reject", 38, False),
    5012: ("reject", 41, False),
    5013: ("reject", 38, False),
    5014: ("reject", 38, False),
    5015: ("reject", 38, False),
    5016: ("reject", 38, False),
    5017: ("reject", 38, False),
    5030: ("reject", 30, True),
    5031: ("reject", 29, True),
}


def _kind(outcome: object) -> tuple[str, int | None, bool | None]:
    match outcome:
        case Proceed():
            return ("proceed", None, None)
        case DeliverFree():
            return ("free", None, None)
        case Failover():
            return ("failover", None, None)
        case Reject(rp_cause=cause, permanent=permanent):
            return ("reject", int(cause), permanent)
    raise AssertionError(outcome)


def test_table_covers_every_named_code_and_nothing_else() -> None:
    assert set(RESULT_TABLE) == {int(code) for code in ResultCode} == set(EXPECTED)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_every_code_in_the_table(code: int) -> None:
    assert _kind(outcome_for_code(code)) == EXPECTED[code]
    assert _kind(outcome_of(_cca(result_code=code))) == EXPECTED[code]


def test_rejections_use_causes_the_network_may_send_for_mo() -> None:
    mo_causes = {1, 8, 10, 21, 27, 28, 29, 30, 38, 41, 42, 47, 50, 69, 127}
    for outcome in RESULT_TABLE.values():
        if isinstance(outcome, Reject):
            assert outcome.rp_cause in mo_causes
            assert isinstance(outcome.rp_cause, RpCause)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (2999, PROCEED),
        (3999, FAILOVER),
        (4999, Reject(RpCause.TEMPORARY_FAILURE, permanent=False)),
        (5999, Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, permanent=True)),
        (1999, FAILOVER),
        (0, FAILOVER),
        (6001, FAILOVER),
        (2**32 - 1, FAILOVER),
    ],
)
def test_unknown_codes_follow_their_class(code: int, expected: object) -> None:
    assert outcome_for_code(code) == expected


def _cca(
    result_code: int | None = None,
    experimental: tuple[int, int] | None = None,
    mscc: tuple[int, ...] = (),
) -> CcaResult:
    exp = None if experimental is None else ExperimentalResult(*experimental)
    return CcaResult(result_code, exp, mscc, None, "s", 1, 2)


@pytest.mark.parametrize(
    ("cca", "code", "outcome"),
    [
        (_cca(2001), 2001, PROCEED),
        (_cca(2001, mscc=(2001,)), 2001, PROCEED),
        (_cca(2001, mscc=(4012,)), 4012, Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True)),
        (_cca(2001, mscc=(4011,)), 4011, DELIVER_FREE),
        (_cca(2001, mscc=(2001, 5031)), 5031, Reject(RpCause.FACILITY_REJECTED, True)),
        (_cca(4012, mscc=(2001,)), 4012, Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True)),
        (_cca(5030), 5030, Reject(RpCause.UNKNOWN_SUBSCRIBER, True)),
        (_cca(3002), 3002, FAILOVER),
        (_cca(3004, mscc=(2001,)), 3004, FAILOVER),
        (_cca(experimental=(10415, 5030)), 5030, Reject(RpCause.UNKNOWN_SUBSCRIBER, True)),
        (_cca(experimental=(10415, 2001), mscc=(4010,)), 4010, Reject(RpCause(50), True)),
        (_cca(2001, experimental=(10415, 4012)), 4012, Reject(RpCause(21), True)),
        (_cca(), None, FAILOVER),
    ],
)
def test_which_code_decides(cca: CcaResult, code: int | None, outcome: object) -> None:
    assert deciding_code(cca) == code
    assert outcome_of(cca) == outcome


# --- decode_cca against CCAs made by python-diameter ----------------------------------------


def test_success_with_mscc() -> None:
    cca = decode_cca(build_cca(result_code=2001, mscc=[(2001, 2)]))
    assert cca == CcaResult(2001, None, (2001,), 2, "smsc.example.net;1;1", 0x11223344, 0x55667788)
    assert outcome_of(cca) == PROCEED


def test_credit_limit_reached() -> None:
    cca = decode_cca(build_cca(result_code=4012))
    assert (cca.result_code, cca.mscc_result_codes, cca.granted_units) == (4012, (), None)
    assert outcome_of(cca) == Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, permanent=True)


def test_credit_limit_reached_per_service() -> None:
    cca = decode_cca(build_cca(result_code=2001, mscc=[(4012, None)]))
    assert cca.mscc_result_codes == (4012,)
    assert outcome_of(cca) == Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, permanent=True)


def test_user_unknown() -> None:
    cca = decode_cca(build_cca(result_code=5030, session_id="a;b;c", hop_by_hop=7, end_to_end=9))
    assert (cca.result_code, cca.session_id, cca.hop_by_hop, cca.end_to_end) == (
        5030,
        "a;b;c",
        7,
        9,
    )
    assert outcome_of(cca) == Reject(RpCause.UNKNOWN_SUBSCRIBER, permanent=True)


def test_experimental_result() -> None:
    cca = decode_cca(build_cca(result_code=None, experimental=(10415, 5030)))
    assert cca.result_code is None
    assert cca.experimental == ExperimentalResult(10415, 5030)
    assert outcome_of(cca) == Reject(RpCause.UNKNOWN_SUBSCRIBER, permanent=True)


def test_protocol_error_answer_with_e_bit() -> None:
    cca = decode_cca(build_cca(result_code=3004, error_bit=True))
    assert cca.error_bit
    assert outcome_of(cca) == FAILOVER


def test_granted_units_of_a_large_grant() -> None:
    assert decode_cca(build_cca(mscc=[(2001, 2**40)])).granted_units == 2**40


# --- malformed answers -----------------------------------------------------------------------

GOOD = build_cca(result_code=2001, mscc=[(2001, 1)])


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "cannot hold"),
        (GOOD[:19], "cannot hold"),
        (GOOD[:-4], "header length"),
        (GOOD + b"\0\0\0\0", "header length"),
        (_patch(GOOD, 0, ">B", 2), "version"),
        (_patch(GOOD, 4, ">B", 0xC0), "R flag"),
        (_patch(GOOD, 4, ">I", 0x40000101), "command code"),
        (_patch(GOOD, 8, ">I", 16777238), "Application-Id"),
        (build_cca(result_code=None), "neither Result-Code"),
    ],
)
def test_malformed_answers_raise_cca_decode_error(data: bytes, why: str) -> None:
    with pytest.raises(CcaDecodeError, match=why) as info:
        decode_cca(data)
    assert isinstance(info.value, ChargingError)
    assert isinstance(info.value, RemoteProtocolError)


def test_avp_level_errors() -> None:
    body = GOOD[20:]
    header = bytearray(GOOD[:20])

    def message(avps: bytes) -> bytes:
        struct.pack_into(">I", header, 0, 0x01000000 | (20 + len(avps)))
        return bytes(header) + avps

    cases = {
        "length 4 < 8": struct.pack(">II", 268, 0x40000004) + b"\0" * 4,
        "overruns": struct.pack(">II", 268, 0x40000010) + b"\0" * 4,
        "expected 4": struct.pack(">II", 268, 0x4000000A) + b"\0\0\0\0",
        "Result-Code appears twice": body + struct.pack(">III", 268, 0x4000000C, 2001),
        "Vendor-Id or": struct.pack(">IIII", 297, 0x40000014, 298, 0x4000000C) + b"\0\0\0\0",
        "stray octets": struct.pack(">III", 268, 0x4000000C, 2001) + b"\0\0\0\0",
    }
    for why, avps in cases.items():
        with pytest.raises(CcaDecodeError, match=why):
            decode_cca(message(avps))


def test_vendor_specific_avps_with_base_codes_are_not_mistaken() -> None:
    avps = GOOD[20:] + struct.pack(">IIII", 268, 0xC0000010, 10415, 5030)
    header = bytearray(GOOD[:20])
    struct.pack_into(">I", header, 0, 0x01000000 | (20 + len(avps)))
    assert decode_cca(bytes(header) + avps).result_code == 2001


def test_session_id_that_is_not_utf8() -> None:
    data = build_cca(session_id="x" * 8).replace(b"x" * 8, b"\xff" * 8)
    with pytest.raises(CcaDecodeError):
        decode_cca(data)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    with contextlib.suppress(CcaDecodeError):
        decode_cca(data)


@settings(max_examples=500)
@given(st.data())
def test_mutated_answers_never_raise_anything_else(data: st.DataObject) -> None:
    base = bytearray(
        data.draw(
            st.sampled_from(
                [
                    GOOD,
                    build_cca(result_code=None, experimental=(10415, 4012)),
                    build_cca(result_code=2001, mscc=[(4012, 3), (2001, None)]),
                ]
            )
        )
    )
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(base) - 1))
        base[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    mutated = bytes(base[:cut])
    if data.draw(st.booleans()) and len(mutated) >= 4:  # keep the header length consistent
        mutated = _patch(mutated, 0, ">I", 0x01000000 | len(mutated))
    try:
        result = decode_cca(mutated)
    except CcaDecodeError:
        return
    assert result.result_code is not None or result.experimental is not None
