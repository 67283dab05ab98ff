"""PSAP formats: our JSON, the ETSI TS 103 625 HTTPS form (and back), PIDF-LO (RFC 4119/5491)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aml.errors import AmlFormatError, AmlParseError
from aml.formats import (
    AmlContext,
    AmlFormat,
    parse_etsi_https,
    render,
    render_etsi_https,
    render_json,
    render_pidf_lo,
    report_as_dict,
)
from aml.model import AmlReport, Location, NoLocationReason, PositioningMethod
from aml.parser import parse_aml
from tests.aml.test_parser import _LATITUDES, _LONGITUDES, BY_ID, EXAMPLE, _digits

CTX = AmlContext(
    report_id=17,
    sender_msisdn="+33611223344",
    received_at=datetime(2019, 11, 12, 11, 29, 31, tzinfo=UTC),
    emergency_number="112",
    roaming_status="international-roaming",
    visited_plmn="20820",
)
NS = {
    "p": "urn:ietf:params:xml:ns:pidf",
    "gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
    "gml": "http://www.opengis.net/gml",
    "gs": "http://www.opengis.net/pidflo/1.0",
    "ca": "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr",
    "con": "urn:ietf:params:xml:ns:geopriv:conf",
}
# cpilatre/aml-lib tests/verify.rs from_https: a handset's HTTPS AML POST body.
HANDSET_FORM = (
    b"v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325"
    b"&location_time=1476189444435&location_accuracy=10.4&location_source=GPS"
    b"&location_certainty=83&location_altitude=0.0&location_floor=5"
    b"&device_model=ABC+ABC+Detente+530&device_imei=354773072099116&device_imsi=234159176307582"
    b"&device_os=AOS&cell_carrier=&cell_home_mcc=234&cell_home_mnc=15&cell_network_mcc=234"
    b"&cell_network_mnc=15&cell_id=0213454321"
)
NO_LOCATION = parse_aml(BY_ID["no-location-pm-n-empty"]["text"])
V2 = parse_aml(BY_ID["amllib-v2-example"]["text"])


# --- JSON ---------------------------------------------------------------------------------------


def test_json_keys_and_values() -> None:
    document = json.loads(render_json(parse_aml(EXAMPLE), CTX))
    assert list(document) == [
        "id",
        "received_at",
        "sender_msisdn",
        "emergency_number",
        "roaming",
        "raw_text",
        "report",
    ]
    assert document["id"] == "17"
    assert document["received_at"] == "2019-11-12T11:29:31Z"
    assert document["roaming"] == {"status": "international-roaming", "visited_plmn": "20820"}
    assert document["raw_text"] == EXAMPLE
    report = document["report"]
    assert set(report) == {
        *("version", "valid", "is_aml", "location", "no_location", "imsi", "imei"),
        *("network", "home", "emergency_number", "call_time", "language", "device_number"),
        *("declared_length", "actual_length", "length_ok", "extra", "problems"),
    }
    assert report["location"] == {
        "latitude": 48.82639,
        "longitude": -2.36619,
        "radius_m": 52,
        "altitude_m": None,
        "vertical_accuracy_m": None,
        "floor": None,
        "confidence_pct": 68,
        "method": "G",
        "time": "2019-11-12T11:29:28Z",
    }
    assert report["network"] == {"mcc": "208", "mnc": "20"}
    assert report["length_ok"] is True
    assert report["problems"] == []


def test_json_without_location_is_explicit() -> None:
    report = json.loads(render_json(NO_LOCATION, AmlContext()))["report"]
    assert report["location"] is None
    assert report["no_location"] == "no-fix"
    assert report["network"] == {"mcc": "262", "mnc": "01"}


def test_json_lists_problems_and_extra() -> None:
    text = EXAMPLE.replace("ml=126", "xx=1;ml=131")
    report = report_as_dict(parse_aml(text))
    assert report["raw"] == text
    assert report["extra"] == {"xx": "1"}
    assert report["problems"] == []
    wrong = report_as_dict(parse_aml(text.replace("ml=131", "ml=130")))
    assert wrong["problems"] == [
        {"key": "ml", "message": "says 130 characters but the message has 131"}
    ]
    assert wrong["length_ok"] is False


# --- ETSI HTTPS form ---------------------------------------------------------------------------


def test_https_field_names_and_values() -> None:
    fields = dict(parse_qsl(render_etsi_https(parse_aml(EXAMPLE), CTX).decode("ascii")))
    assert fields == {
        "v": "1",
        "device_number": "+33611223344",
        "location_latitude": "48.82639",
        "location_longitude": "-2.36619",
        "location_time": "1573558168000",
        "location_accuracy": "52",
        "location_source": "GPS",
        "location_certainty": "68",
        "device_imei": "353472104343540",
        "device_imsi": "208201771948415",
        "cell_network_mcc": "208",
        "cell_network_mnc": "20",
        "emergency_number": "112",
    }


def test_https_v2_fields_and_no_location() -> None:
    fields = dict(parse_qsl(render_etsi_https(V2, AmlContext()).decode("ascii")))
    assert fields["location_altitude"] == "-100.1"
    assert fields["location_vertical_accuracy"] == "100.1"
    assert fields["location_accuracy"] == "2000.1"
    assert (fields["cell_home_mcc"], fields["cell_home_mnc"]) == ("310", "260")
    assert fields["emergency_number"] == "+15555555555"
    assert fields["time"] == "1593187189000"
    assert fields["device_languages"] == "en-US"
    empty = dict(parse_qsl(render_etsi_https(NO_LOCATION, CTX).decode("ascii")))
    assert not [k for k in empty if k.startswith("location_")]
    assert empty["cell_network_mnc"] == "01"


def test_https_uses_the_visited_plmn_when_the_report_has_none() -> None:
    report = replace(NO_LOCATION, mcc=None, mnc=None)
    fields = dict(parse_qsl(render_etsi_https(report, CTX).decode("ascii")))
    assert (fields["cell_network_mcc"], fields["cell_network_mnc"]) == ("208", "20")


@pytest.mark.parametrize("report", [parse_aml(EXAMPLE), V2, NO_LOCATION], ids=["v1", "v2", "none"])
def test_https_round_trip(report: AmlReport) -> None:
    back = parse_etsi_https(render_etsi_https(report, CTX), strict=True)
    assert back.location == report.location
    assert back.no_location == (NoLocationReason.ABSENT if report.location is None else None)
    for name in ("imsi", "imei", "mcc", "mnc", "home_mcc", "home_mnc", "call_time", "language"):
        assert getattr(back, name) == getattr(report, name), name
    assert back.device_number == CTX.sender_msisdn
    assert back.emergency_number == "112"


def test_parse_a_handset_form() -> None:
    report = parse_etsi_https(HANDSET_FORM, strict=True)
    assert report.version == 1
    assert report.device_number == "+447477593102"
    assert report.location == Location(
        55.85732,
        -4.26325,
        10.4,
        0.0,
        None,
        "5",
        83,
        PositioningMethod.GNSS,
        datetime(2016, 10, 11, 12, 37, 24, 435_000, tzinfo=UTC),
    )
    assert (report.imei, report.imsi) == ("354773072099116", "234159176307582")
    assert (report.mcc, report.mnc, report.home_mcc, report.home_mnc) == ("234", "15", "234", "15")
    assert dict(report.extra) == {
        "device_model": "ABC ABC Detente 530",
        "device_os": "AOS",
        "cell_carrier": "",
        "cell_id": "0213454321",
    }


def test_parse_form_problems() -> None:
    body = b"location_latitude=95&location_longitude=1&location_source=SATELLITE&cell_network_mnc=1"
    report = parse_etsi_https(body)
    assert report.location is None
    assert report.no_location == NoLocationReason.INVALID
    assert {p.key for p in report.problems} == {
        "v",
        "location_latitude",
        "location_source",
        "cell_network_mnc",
    }
    with pytest.raises(AmlParseError):
        parse_etsi_https(body, strict=True)


def test_parse_form_accepts_location_confidence() -> None:
    body = (
        b"v=1&location_latitude=1&location_longitude=2&location_confidence=68&location_source=wifi"
    )
    report = parse_etsi_https(body)
    assert report.location is not None
    assert report.location.confidence_pct == 68
    assert report.location.method == PositioningMethod.WIFI


@settings(max_examples=300)
@given(st.binary())
def test_parse_form_never_raises(body: bytes) -> None:
    report = parse_etsi_https(body)
    assert not [p for p in report.problems if "internal" in p.message]


_TIMES_MS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
_TENTHS = st.integers(-1_000_000, 1_000_000).map(lambda k: k / 10)
_RICH_LOCATIONS = st.builds(
    Location,
    latitude=_LATITUDES,
    longitude=_LONGITUDES,
    radius_m=st.none() | st.integers(0, 100_000) | _TENTHS.map(abs),
    altitude_m=st.none() | _TENTHS,
    vertical_accuracy_m=st.none() | _TENTHS.map(abs),
    floor=st.none() | st.from_regex(r"[A-Za-z0-9-]{1,4}", fullmatch=True),
    confidence_pct=st.none() | st.integers(0, 100),
    method=st.none() | st.sampled_from([PositioningMethod(m) for m in "GWCFU"]),
    time=st.none() | _TIMES_MS,
)
_RICH_REPORTS = st.builds(
    AmlReport,
    version=st.sampled_from([1, 2]),
    location=st.none() | _RICH_LOCATIONS,
    imsi=st.none() | _digits(14, 15),
    imei=st.none() | _digits(14, 16),
    mcc=st.none() | _digits(3, 3),
    mnc=st.none() | _digits(2, 3),
    home_mcc=st.none() | _digits(3, 3),
    home_mnc=st.none() | _digits(2, 3),
    call_time=st.none() | _TIMES_MS,
)


@given(_RICH_REPORTS)
def test_https_round_trip_property(report: AmlReport) -> None:
    ctx = AmlContext(sender_msisdn="+4917012345678")
    back = parse_etsi_https(render_etsi_https(report, ctx), strict=True)
    assert back.location == report.location
    for name in ("imsi", "imei", "mcc", "mnc", "home_mcc", "home_mnc", "call_time"):
        assert getattr(back, name) == getattr(report, name), name


# --- PIDF-LO -----------------------------------------------------------------------------------


def _pidf(report: AmlReport, ctx: AmlContext = CTX) -> ET.Element:
    return ET.fromstring(render_pidf_lo(report, ctx))


def test_pidf_lo_circle() -> None:
    root = _pidf(parse_aml(EXAMPLE))
    assert root.tag == "{urn:ietf:params:xml:ns:pidf}presence"
    assert root.get("entity") == "tel:+33611223344"
    tuple_ = root.find("p:tuple", NS)
    assert tuple_ is not None
    assert tuple_.get("id") == "aml-17"
    geopriv = tuple_.find("p:status/gp:geopriv", NS)
    assert geopriv is not None
    circle = geopriv.find("gp:location-info/gs:Circle", NS)
    assert circle is not None
    assert circle.get("srsName") == "urn:ogc:def:crs:EPSG::4326"
    assert circle.findtext("gml:pos", namespaces=NS) == "48.82639 -2.36619"
    radius = circle.find("gs:radius", NS)
    assert radius is not None
    assert radius.text == "52"
    assert radius.get("uom") == "urn:ogc:def:uom:EPSG::9001"
    assert geopriv.findtext("gp:location-info/con:confidence", namespaces=NS) == "68"
    assert geopriv.find("gp:usage-rules", NS) is not None
    assert geopriv.findtext("gp:method", namespaces=NS) == "GPS"
    assert tuple_.findtext("p:timestamp", namespaces=NS) == "2019-11-12T11:29:28Z"


def test_pidf_lo_3d_ellipsoid_for_v2() -> None:
    ellipsoid = _pidf(V2).find(".//gs:Ellipsoid", NS)
    assert ellipsoid is not None
    assert ellipsoid.get("srsName") == "urn:ogc:def:crs:EPSG::4979"
    assert ellipsoid.findtext("gml:pos", namespaces=NS) == "-37.42175 -122.08461 -100.1"
    assert ellipsoid.findtext("gs:semiMajorAxis", namespaces=NS) == "2000.1"
    assert ellipsoid.findtext("gs:verticalAxis", namespaces=NS) == "100.1"


def test_pidf_lo_without_location() -> None:
    root = _pidf(NO_LOCATION, AmlContext())
    info = root.find("p:tuple/p:status/gp:geopriv/gp:location-info", NS)
    assert info is not None
    assert list(info) == []
    assert root.findtext("p:tuple/p:note", namespaces=NS) == "no location: no-fix"
    assert root.find("p:tuple/p:timestamp", NS) is None
    assert "0.0" not in render_pidf_lo(NO_LOCATION, AmlContext()).decode()


def test_pidf_lo_floor_and_unsafe_text() -> None:
    report = parse_etsi_https(
        HANDSET_FORM.replace(b"location_floor=5", b"location_floor=%3C5%26%01")
    )
    root = _pidf(report, AmlContext(report_id="a b/c"))
    assert root.findtext(".//ca:civicAddress/ca:FLR", namespaces=NS) == "<5&\ufffd"
    assert root.find(".//gml:Point", NS) is None
    assert root.get("entity") == "tel:+447477593102"
    tuple_ = root.find("p:tuple", NS)
    assert tuple_ is not None
    assert tuple_.get("id") == "aml-a_b_c"


def test_pidf_lo_point_without_radius() -> None:
    report = parse_aml('A"ML=2;lo=1.5,2.5;ls=F')
    root = _pidf(report, AmlContext())
    assert root.findtext(".//gml:Point/gml:pos", namespaces=NS) == "1.5 2.5"
    assert root.find(".//gp:method", NS) is None  # fused has no RFC 4119 method token
    assert root.get("entity") == "pres:anonymous@anonymous.invalid"


@settings(max_examples=200)
@given(st.one_of(_RICH_REPORTS, st.text().map(parse_aml)))
def test_every_format_renders_any_report(report: AmlReport) -> None:
    for kind in AmlFormat:
        body, content_type = render(kind, report, CTX)
        assert body
        assert content_type
    ET.fromstring(render_pidf_lo(report, CTX))
    json.loads(render_json(report, CTX))


def test_lone_surrogates_render() -> None:
    """`smsc aml parse` may hand over argv text with surrogate escapes."""
    report = parse_aml(EXAMPLE.replace("ml=126", "zz=\udcff;ml=131"))
    assert dict(report.extra) == {"zz": "\udcff"}
    ctx = replace(CTX, sender_msisdn="\udcff")
    for kind in AmlFormat:
        assert render(kind, report, ctx)[0]
    ET.fromstring(render_pidf_lo(report, ctx))


# --- render() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("json", "application/json"),
        ("etsi-https", "application/x-www-form-urlencoded"),
        ("pidf-lo", "application/pidf+xml"),
    ],
)
def test_render_by_name(name: str, content_type: str) -> None:
    report = parse_aml(EXAMPLE)
    body, kind = render(name, report, CTX)
    assert kind == content_type
    assert body == {
        "json": render_json,
        "etsi-https": render_etsi_https,
        "pidf-lo": render_pidf_lo,
    }[name](report, CTX)


def test_render_unknown_format() -> None:
    with pytest.raises(AmlFormatError, match="xml"):
        render("xml", parse_aml(EXAMPLE), CTX)
