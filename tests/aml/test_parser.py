"""ETSI TS 103 625 AML SMS parser: real and realistic texts, strictness, round trip, fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aml.errors import AmlParseError
from aml.model import AmlReport, Location, NoLocationReason, PositioningMethod
from aml.parser import V1_KEYS, V2_KEYS, format_aml_v1, parse_aml, self_counting_length
from tests.vectors import load_vectors

TEXTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "texts.json").read_text(encoding="utf-8")
)["texts"]
BY_ID = {entry["id"]: entry for entry in TEXTS}
EXAMPLE = BY_ID["amllib-v1-example"]["text"]


_LOCATION_FIELDS = frozenset(Location.__dataclass_fields__)


def _value(report: AmlReport, name: str) -> Any:
    """One expected value of texts.json read from a report, times as ISO text."""
    if name == "location":
        return report.location
    if name in _LOCATION_FIELDS:
        assert report.location is not None, f"{name}: no location ({report.problems})"
        value = getattr(report.location, name)
    elif name == "extra":
        return [list(pair) for pair in report.extra]
    elif name == "problem_keys":
        return sorted({p.key for p in report.problems})
    else:
        value = getattr(report, name)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@pytest.mark.parametrize("entry", TEXTS, ids=[e["id"] for e in TEXTS])
def test_texts(entry: dict[str, Any]) -> None:
    report = parse_aml(entry["text"])
    assert report.raw == entry["text"]
    for name, expected in entry["expect"].items():
        assert _value(report, name) == expected, name
    assert report.valid == (entry["expect"]["problem_keys"] == [])


def test_public_example_is_126_characters_and_valid() -> None:
    assert len(EXAMPLE) == 126
    report = parse_aml(EXAMPLE, strict=True)
    assert report.length_ok is True
    assert report.declared_length == report.actual_length == 126
    assert report.location == Location(
        48.82639,
        -2.36619,
        52,
        confidence_pct=68,
        method=PositioningMethod.GNSS,
        time=datetime(2019, 11, 12, 11, 29, 28, tzinfo=UTC),
    )


def test_the_vector_carries_the_public_example() -> None:
    vector = next(v for v in load_vectors() if v["id"] == "aml-v1-text-amllib")
    assert vector["tshark_decoded"]["tp"]["text"] == EXAMPLE


def test_ml_128_is_flagged_and_strict_mode_refuses_it() -> None:
    text = EXAMPLE.replace("ml=126", "ml=128")
    report = parse_aml(text)
    assert report.length_ok is False
    assert [p.key for p in report.problems] == ["ml"]
    assert report.location is not None  # still usable
    with pytest.raises(AmlParseError) as caught:
        parse_aml(text, strict=True)
    assert [p.key for p in caught.value.problems] == ["ml"]
    assert "128" in str(caught.value)


def test_strict_mode_lists_every_problem() -> None:
    with pytest.raises(AmlParseError) as caught:
        parse_aml(BY_ID["truncated"]["text"], strict=True)
    assert (
        sorted(p.key for p in caught.value.problems) == BY_ID["truncated"]["expect"]["problem_keys"]
    )


def test_not_aml() -> None:
    report = parse_aml("Help, I am at the station")
    assert report.version is None
    assert report.location is None
    assert report.no_location == NoLocationReason.NOT_AML
    assert not report.is_aml
    assert len(report.problems) == 1
    with pytest.raises(AmlParseError):
        parse_aml("Help", strict=True)


def test_unknown_version_is_read_as_version_1() -> None:
    report = parse_aml(EXAMPLE.replace('A"ML=1', 'A"ML=3'))
    assert report.version == 3
    assert report.location is not None
    assert [p.key for p in report.problems] == [""]


def test_repeated_key_keeps_the_first_value() -> None:
    text = format_aml_v1(parse_aml(EXAMPLE)).replace(";ml=", ";lt=10.0;ml=")
    report = parse_aml(text.rsplit("=", 1)[0] + "=" + str(len(text)))
    assert report.location is not None
    assert report.location.latitude == 48.82639
    assert [p.key for p in report.problems] == ["lt"]


def test_decimal_radius_is_kept_and_flagged() -> None:
    report = parse_aml(EXAMPLE.replace("rd=52", "rd=52.5"))
    assert report.location is not None
    assert report.location.radius_m == 52.5
    assert {p.key for p in report.problems} == {"rd", "ml"}


def test_version_2_ml_is_checked_when_present() -> None:
    text = BY_ID["amllib-v2-example"]["text"] + ";ml=9"
    report = parse_aml(text)
    assert report.declared_length == 9
    assert [p.key for p in report.problems] == ["ml"]


def test_version_2_offset_needs_the_call_time() -> None:
    report = parse_aml('A"ML=2;lo=1.5,2.5,10;lt=-5;ls=W')
    assert report.location is not None
    assert report.location.time is None
    assert [p.key for p in report.problems] == ["lt"]


def test_version_2_empty_location() -> None:
    report = parse_aml('A"ML=2;en=112;et=1593187189;lo=;ls=U;nc=26201')
    assert report.location is None
    assert report.no_location == NoLocationReason.EMPTY
    assert (report.mcc, report.mnc) == ("262", "01")
    assert report.valid


def test_format_reproduces_the_public_example() -> None:
    assert format_aml_v1(parse_aml(EXAMPLE)) == EXAMPLE


@pytest.mark.parametrize("prefix", [0, 1, 7, 8, 9, 96, 97, 98, 99, 995, 996, 997, 9995])
def test_self_counting_length(prefix: int) -> None:
    length = self_counting_length(prefix)
    assert prefix + len(str(length)) == length


# --- property: format -> parse ----------------------------------------------------------------

_LATITUDES = st.integers(-9_000_000, 9_000_000).map(lambda k: k / 100_000)
_LONGITUDES = st.integers(-18_000_000, 18_000_000).map(lambda k: k / 100_000)
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
_METHODS = st.sampled_from([PositioningMethod(m) for m in "GWCU"])
_LOCATIONS = st.builds(
    Location,
    latitude=_LATITUDES,
    longitude=_LONGITUDES,
    radius_m=st.none() | st.integers(0, 100_000),
    confidence_pct=st.none() | st.integers(0, 100),
    method=st.none() | _METHODS,
    time=st.none() | _TIMES,
)


def _digits(shortest: int, longest: int) -> st.SearchStrategy[str]:
    return st.from_regex(rf"[0-9]{{{shortest},{longest}}}", fullmatch=True)


_EXTRA = st.lists(
    st.tuples(
        st.from_regex(r"[a-z]{1,4}", fullmatch=True).filter(lambda k: k not in V1_KEYS),
        st.from_regex(r"[A-Za-z0-9.,+=-]{0,12}", fullmatch=True),
    ),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(tuple)
_REPORTS = st.builds(
    AmlReport,
    version=st.just(1),
    location=st.none() | _LOCATIONS,
    imsi=st.none() | _digits(14, 15),
    imei=st.none() | _digits(14, 16),
    mcc=st.none() | _digits(3, 3),
    mnc=st.none() | _digits(2, 3),
    extra=_EXTRA,
)


@given(_REPORTS)
def test_format_then_parse_gives_the_same_values(report: AmlReport) -> None:
    text = format_aml_v1(report)
    parsed = parse_aml(text, strict=True)
    assert parsed.declared_length == len(text)
    assert parsed.location == report.location
    if report.location is None:
        assert parsed.no_location == NoLocationReason.NO_FIX
    for name in ("version", "imsi", "imei", "mcc", "mnc", "extra"):
        assert getattr(parsed, name) == getattr(report, name), name


# --- fuzz: lenient never raises, strict raises only AmlParseError -----------------------------


def _no_internal_error(report: AmlReport) -> None:
    assert not [p for p in report.problems if "internal" in p.message], report.problems


@settings(max_examples=300)
@given(st.text())
def test_any_text_lenient_never_raises(text: str) -> None:
    report = parse_aml(text)
    assert report.raw == text
    _no_internal_error(report)


_NASTY = '0123456789+-.,;= \r\n\t\x00NGWCFUnguA"ML٣²\U0001f600eE_'
_ATTRIBUTES = st.lists(
    st.tuples(
        st.sampled_from(sorted({*V1_KEYS, *V2_KEYS, "LT", "x", ""})),
        st.text(alphabet=_NASTY, max_size=24) | st.from_regex(r"-?[0-9]{1,30}", fullmatch=True),
    ),
    max_size=16,
)


@settings(max_examples=500)
@given(st.sampled_from(["1", "2", "", "x", "999999", " 1"]), _ATTRIBUTES, st.booleans())
def test_aml_shaped_text_never_raises(
    version: str, attributes: list[tuple[str, str]], strict: bool
) -> None:
    text = 'A"ML=' + version + "".join(f";{k}={v}" for k, v in attributes)
    try:
        report = parse_aml(text, strict=strict)
    except AmlParseError as exc:
        assert strict
        assert exc.problems
        return
    assert report.raw == text
    _no_internal_error(report)
