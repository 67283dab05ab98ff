"""Malformed input gives a valid message or our typed DecodeError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz_codec import check, run


def test_truncations_and_random_mutations_of_every_vector() -> None:
    outcomes = run(mutations=20_000, seed=2026)
    assert outcomes["rejected"] > 0
    assert outcomes["valid"] > 0


@settings(max_examples=2000)
@given(st.binary(max_size=64))
def test_arbitrary_bytes(body: bytes) -> None:
    check(body)


@settings(max_examples=2000)
@given(st.sampled_from([0, 1]), st.binary(min_size=1, max_size=180))
def test_arbitrary_tpdu_in_valid_rp_data(mti: int, tpdu: bytes) -> None:
    header = bytes((mti, 1, 0, 7, 0x91, 0x94, 0x71, 0x01, 0x67, 0x00, 0x00))
    if mti == 1:
        header = bytes((1, 1, 7, 0x91, 0x94, 0x71, 0x01, 0x67, 0x00, 0x00, 0))
    check(header + bytes((len(tpdu),)) + tpdu)


@settings(max_examples=1000)
@given(st.sampled_from([2, 3, 4, 5]), st.binary(min_size=1, max_size=40))
def test_arbitrary_reports(mti: int, tpdu: bytes) -> None:
    cause = b"\x01\x16" if mti in (4, 5) else b""
    check(bytes((mti, 9)) + cause + bytes((0x41, len(tpdu))) + tpdu)
