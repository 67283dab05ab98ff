"""P-Access-Network-Info parsing and the roaming verdict (vectors in pani_vectors.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging.errors import ChargingError, PaniSyntaxError
from charging.pani import (
    AccessNetInfo,
    RoamingStatus,
    parse_cell_id,
    parse_pani,
    roaming_verdict,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "pani_vectors.json").read_text(encoding="utf-8")
)["cases"]


@pytest.mark.parametrize("case", VECTORS, ids=[case["id"] for case in VECTORS])
def test_vectors(case: dict[str, Any]) -> None:
    verdict = roaming_verdict(
        case["pani"], case.get("home_plmns", ["26201"]), trust=case.get("trust", "network-provided")
    )
    assert verdict.status == RoamingStatus(case["status"])
    assert case.get("reason", "") in verdict.reason
    if "access_type" in case:
        assert verdict.access_type == case["access_type"]
    if verdict.status is RoamingStatus.UNKNOWN:
        assert verdict.cell_id is None
        assert verdict.visited_plmn is None
        return
    assert verdict.cell_id is not None
    assert (verdict.visited_mcc, verdict.visited_mnc) == (case["mcc"], case["mnc"])
    assert verdict.visited_plmn == case["mcc"] + case["mnc"]
    assert (verdict.cell_id.area_code, verdict.cell_id.cell_identity) == (
        case["area"],
        case["cell"],
    )
    assert verdict.cell_id.value in case["pani"]


def test_e_utran_cell_id_with_a_3_digit_mnc() -> None:
    """TS 24.229 §7.2A.4 E-UTRAN cell id, 17 digits so a 3-digit MNC: 31041043114b4cae5 ->
    MCC 310, MNC 410, TAC 4311, ECI 4b4cae5."""
    verdict = roaming_verdict(
        "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=31041043114b4cae5;network-provided", ["26201"]
    )
    assert verdict.status is RoamingStatus.INTERNATIONAL_ROAMING
    assert verdict.cell_id is not None
    cell = verdict.cell_id
    assert (cell.mcc, cell.mnc, cell.area_code, cell.cell_identity) == (
        "310",
        "410",
        "4311",
        "4b4cae5",
    )


def test_parse_several_specs_with_quoted_values() -> None:
    specs = parse_pani(
        '3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="2620100011234567"; network-provided,'
        ' IEEE-802.11;i-wlan-node-id=ffeeddccbbaa;operator-specific-GI="a \\"quoted\\" \\\\ value"'
    )
    assert specs == [
        AccessNetInfo(
            "3GPP-E-UTRAN-FDD",
            (("utran-cell-id-3gpp", "2620100011234567"), ("network-provided", None)),
            network_provided=True,
        ),
        AccessNetInfo(
            "IEEE-802.11",
            (("i-wlan-node-id", "ffeeddccbbaa"), ("operator-specific-gi", 'a "quoted" \\ value')),
            network_provided=False,
        ),
    ]
    assert specs[1].param("Operator-Specific-GI") == 'a "quoted" \\ value'
    assert specs[1].param("cgi-3gpp") is None


def test_quoted_separators_do_not_split() -> None:
    (spec,) = parse_pani('ADSL;dsl-location="a;b,c=d";network-provided')
    assert spec.param("dsl-location") == "a;b,c=d"
    assert spec.network_provided


def test_network_provided_with_a_value_is_not_the_flag() -> None:
    (spec,) = parse_pani("3GPP-E-UTRAN-FDD;network-provided=yes")
    assert not spec.network_provided


@pytest.mark.parametrize(
    "value",
    [
        "",
        ";network-provided",
        "3GPP-E-UTRAN-FDD;",
        "3GPP-E-UTRAN-FDD;;network-provided",
        "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=",
        '3GPP-E-UTRAN-FDD;utran-cell-id-3gpp="open',
        "3GPP-E-UTRAN-FDD,",
        "3GPP-E-UTRAN-FDD utran-cell-id-3gpp=1",
        "3GPP-E-UTRAN-FDD;a=b=c",
        "(3GPP)",
    ],
)
def test_malformed_values_raise_pani_syntax_error(value: str) -> None:
    with pytest.raises(PaniSyntaxError):
        parse_pani(value)
    assert roaming_verdict(value, ["26201"]).status is RoamingStatus.UNKNOWN


def test_parse_cell_id_lengths() -> None:
    eutran = {16: (2, 4), 17: (3, 4)}
    cell, note = parse_cell_id("31041043114b4cae5", eutran)
    assert (cell.plmn, cell.area_code, cell.cell_identity) == ("310410", "4311", "4b4cae5")
    assert "3-digit" in note
    cell, _ = parse_cell_id("2620143114b4cae5", eutran)
    assert cell.plmn == "26201"
    for bad in ("", "1234567", "x" * 16, "A6201000112345678"):
        with pytest.raises(PaniSyntaxError):
            parse_cell_id(bad, eutran)


def test_no_home_plmn_configured_gives_unknown_but_keeps_the_visited_plmn() -> None:
    verdict = roaming_verdict(
        "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=2620100011234567;network-provided", []
    )
    assert verdict.status is RoamingStatus.UNKNOWN
    assert verdict.visited_plmn == "26201"


@pytest.mark.parametrize(("homes", "trust"), [(["2620"], "any"), (["26201"], "some")])
def test_configuration_errors_are_loud(homes: list[str], trust: Any) -> None:
    with pytest.raises(ChargingError):
        roaming_verdict("3GPP-GERAN", homes, trust=trust)


# --- fuzz ------------------------------------------------------------------------------------

_ACCESS = st.sampled_from(
    ["3GPP-GERAN", "3GPP-UTRAN-FDD", "3GPP-E-UTRAN-FDD", "3GPP-NR-TDD", "IEEE-802.11", "x"]
)
_NAMES = st.sampled_from(
    ["cgi-3gpp", "utran-cell-id-3gpp", "utran-sai-3gpp", "network-provided", "np", "x-y"]
)
_VALUES = st.text(alphabet='0123456789abcdefABCDEFxyz"\\;,= ', max_size=24)
_near_valid = st.lists(
    st.tuples(_ACCESS, st.lists(st.tuples(_NAMES, st.none() | _VALUES), max_size=4)),
    min_size=1,
    max_size=3,
).map(
    lambda specs: ", ".join(
        access + "".join(f";{n}" if v is None else f";{n}={v}" for n, v in params)
        for access, params in specs
    )
)


@settings(max_examples=500)
@given(st.text(max_size=120) | _near_valid, st.sampled_from(["network-provided", "any"]))
def test_verdict_never_raises(value: str, trust: Any) -> None:
    verdict = roaming_verdict(value, ["26201", "310410"], trust=trust)
    assert verdict.reason or verdict.status is not RoamingStatus.UNKNOWN
    if verdict.cell_id is not None:
        assert verdict.visited_plmn == verdict.cell_id.plmn
        assert verdict.cell_id.value in value or '"' in value or "\\" in value


@settings(max_examples=300)
@given(
    st.sampled_from(["262", "310", "208", "405", "722"]),
    st.text(alphabet="0123456789", min_size=2, max_size=3),
    st.text(alphabet="0123456789abcdef", min_size=3, max_size=16),
)
def test_parsed_cells_recompose_the_value(mcc: str, mnc: str, rest: str) -> None:
    value = mcc + mnc + rest
    verdict = roaming_verdict(
        f"3GPP-E-UTRAN-FDD;utran-cell-id-3gpp={value};network-provided", ["26201"]
    )
    cell = verdict.cell_id
    if cell is None:
        assert verdict.status is RoamingStatus.UNKNOWN
        return
    assert cell.mcc + cell.mnc + cell.area_code + cell.cell_identity == value
    assert cell.mcc == mcc
