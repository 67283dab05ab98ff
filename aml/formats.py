"""What the PSAP receives for one AML report: our JSON, the ETSI TS 103 625 HTTPS form, PIDF-LO.

JSON (`render_json`, content type application/json), keys stable:
  id, received_at (ISO 8601 UTC), sender_msisdn, emergency_number,
  roaming {status, visited_plmn}, raw_text, report (= `report_as_dict`):
    version, valid, is_aml, location {latitude, longitude, radius_m, altitude_m,
    vertical_accuracy_m, floor, confidence_pct, method (G/W/C/F/U), time} | null,
    no_location (no-fix | empty | absent | invalid | not-aml) | null, imsi, imei,
    network {mcc, mnc}, home {mcc, mnc}, emergency_number, call_time, language, device_number,
    declared_length, actual_length, length_ok, extra {key: value}, problems [{key, message}].
Absent values are null; a report without location has `location: null`, never zeros.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape, quoteattr

from aml.errors import AmlFormatError, AmlParseError
from aml.model import AmlProblem, AmlReport, Location, NoLocationReason, PositioningMethod
from aml.parser import EPOCH, FieldReader, place

__all__ = [
    "AmlContext",
    "AmlFormat",
    "parse_etsi_https",
    "render",
    "render_etsi_https",
    "render_json",
    "render_pidf_lo",
    "report_as_dict",
]


class AmlFormat(StrEnum):
    """The PSAP formats of an `aml.psaps` route."""

    JSON = "json"
    ETSI_HTTPS = "etsi-https"
    PIDF_LO = "pidf-lo"


CONTENT_TYPES = {
    AmlFormat.JSON: "application/json",
    AmlFormat.ETSI_HTTPS: "application/x-www-form-urlencoded",
    AmlFormat.PIDF_LO: "application/pidf+xml",
}


@dataclass(frozen=True, slots=True)
class AmlContext:
    """What the SMSC knows about an AML report besides its text."""

    report_id: str | int | None = None
    sender_msisdn: str | None = None  # TP-OA / P-Asserted-Identity, E.164
    received_at: datetime | None = None
    raw_text: str | None = None  # defaults to the report's raw text
    emergency_number: str | None = None  # the dialled TP-DA
    roaming_status: str | None = None  # charging.pani RoamingStatus value
    visited_plmn: str | None = None  # MCC+MNC from the P-Access-Network-Info cell
    activation_source: str | None = None  # HTTPS `source`: "call" or "sms", when known


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


def _location_dict(loc: Location) -> dict[str, Any]:
    return {
        "latitude": loc.latitude,
        "longitude": loc.longitude,
        "radius_m": loc.radius_m,
        "altitude_m": loc.altitude_m,
        "vertical_accuracy_m": loc.vertical_accuracy_m,
        "floor": loc.floor,
        "confidence_pct": loc.confidence_pct,
        "method": None if loc.method is None else str(loc.method),
        "time": _iso(loc.time),
    }


def report_as_dict(report: AmlReport, *, include_raw: bool = True) -> dict[str, Any]:
    """The report as JSON-ready values (the `report` object of `render_json`)."""
    loc = report.location
    data: dict[str, Any] = {
        "version": report.version,
        "valid": report.valid,
        "is_aml": report.is_aml,
        "location": None if loc is None else _location_dict(loc),
        "no_location": None if report.no_location is None else str(report.no_location),
        "imsi": report.imsi,
        "imei": report.imei,
        "network": {"mcc": report.mcc, "mnc": report.mnc},
        "home": {"mcc": report.home_mcc, "mnc": report.home_mnc},
        "emergency_number": report.emergency_number,
        "call_time": _iso(report.call_time),
        "language": report.language,
        "device_number": report.device_number,
        "declared_length": report.declared_length,
        "actual_length": report.actual_length,
        "length_ok": report.length_ok,
        "extra": dict(report.extra),
        "problems": [{"key": p.key, "message": p.message} for p in report.problems],
    }
    if include_raw:
        data["raw"] = report.raw
    return data


def render_json(report: AmlReport, ctx: AmlContext) -> bytes:
    """Our JSON: the parsed report plus what the SMSC knows (keys in the module docstring)."""
    document = {
        "id": None if ctx.report_id is None else str(ctx.report_id),
        "received_at": _iso(ctx.received_at),
        "sender_msisdn": ctx.sender_msisdn,
        "emergency_number": ctx.emergency_number or report.emergency_number,
        "roaming": {"status": ctx.roaming_status, "visited_plmn": ctx.visited_plmn},
        "raw_text": report.raw if ctx.raw_text is None else ctx.raw_text,
        "report": report_as_dict(report, include_raw=False),
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="replace")  # a lone surrogate (from argv) becomes '?'


# --- ETSI TS 103 625 HTTPS form --------------------------------------------------------------

_SOURCES = {
    PositioningMethod.GNSS: "GPS",
    PositioningMethod.WIFI: "WIFI",
    PositioningMethod.CELL: "CELL",
    PositioningMethod.FUSED: "FUSED",
    PositioningMethod.UNKNOWN: "UNKNOWN",
}
_METHODS = {name: method for method, name in _SOURCES.items()} | {"GNSS": PositioningMethod.GNSS}
_HTTPS_KEYS = frozenset(
    (
        *("v", "device_number", "device_imei", "device_imsi", "device_languages"),
        *("location_latitude", "location_longitude", "location_time", "location_accuracy"),
        *("location_source", "location_certainty", "location_confidence", "location_altitude"),
        *("location_floor", "location_vertical_accuracy", "emergency_number", "time"),
        *("cell_network_mcc", "cell_network_mnc", "cell_home_mcc", "cell_home_mnc"),
    )
)
HTTPS_VERSION = "1"


def _num(value: float | None) -> str | None:
    """A number as plain decimal text (no exponent), None kept."""
    if value is None or isinstance(value, int):
        return None if value is None else str(value)
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _millis(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return str((value - EPOCH) // timedelta(milliseconds=1))


def _visited(plmn: str | None) -> tuple[str | None, str | None]:
    if plmn and plmn.isdigit() and len(plmn) in (5, 6):
        return plmn[:3], plmn[3:]
    return None, None


def render_etsi_https(report: AmlReport, ctx: AmlContext) -> bytes:
    """ETSI TS 103 625 HTTPS form fields, x-www-form-urlencoded; no location -> no location_*."""
    loc = report.location
    visited_mcc, visited_mnc = _visited(ctx.visited_plmn)
    own_plmn = report.mcc is not None or report.mnc is not None  # else the PANI cell's PLMN
    fields: list[tuple[str, str | None]] = [
        ("v", HTTPS_VERSION),
        ("device_number", ctx.sender_msisdn or report.device_number),
    ]
    if loc is not None:
        fields += [
            ("location_latitude", _num(loc.latitude)),
            ("location_longitude", _num(loc.longitude)),
            ("location_time", _millis(loc.time)),
            ("location_accuracy", _num(loc.radius_m)),
            ("location_source", None if loc.method is None else _SOURCES.get(loc.method)),
            ("location_certainty", _num(loc.confidence_pct)),
            ("location_altitude", _num(loc.altitude_m)),
            ("location_floor", loc.floor),
            ("location_vertical_accuracy", _num(loc.vertical_accuracy_m)),
        ]
    fields += [
        ("device_imei", report.imei),
        ("device_imsi", report.imsi),
        ("device_languages", report.language),
        ("cell_network_mcc", report.mcc if own_plmn else visited_mcc),
        ("cell_network_mnc", report.mnc if own_plmn else visited_mnc),
        ("cell_home_mcc", report.home_mcc),
        ("cell_home_mnc", report.home_mnc),
        ("emergency_number", ctx.emergency_number or report.emergency_number),
        ("source", ctx.activation_source),
        ("time", _millis(report.call_time)),
    ]
    pairs = [(k, v) for k, v in fields if v is not None]
    return urlencode(pairs, encoding="utf-8", errors="replace").encode("ascii")


def _https_method(reader: FieldReader, value: str | None) -> PositioningMethod | None:
    if not value:
        return None
    method = _METHODS.get(value.upper())
    if method is None:
        reader.problem("location_source", f"{value!r} is not GPS, WIFI, CELL, FUSED or UNKNOWN")
    return method


def _parse_https(text: str) -> AmlReport:
    r = FieldReader()
    fields: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key in fields:
            r.problem(key, "repeated; the first value is used")
        else:
            fields[key] = value.strip()
    get = fields.get
    raw = (get("location_latitude"), get("location_longitude"))
    lat = r.number("location_latitude", raw[0], -90, 90)
    lon = r.number("location_longitude", raw[1], -180, 180)
    radius = r.number("location_accuracy", get("location_accuracy"), 0)
    when = r.epoch("location_time", get("location_time"), milliseconds=True)
    certainty_key = (
        "location_certainty" if "location_certainty" in fields else "location_confidence"
    )
    certainty = r.number(certainty_key, get(certainty_key), 0, 100)
    altitude = r.number("location_altitude", get("location_altitude"))
    vertical = r.number("location_vertical_accuracy", get("location_vertical_accuracy"), 0)
    method = _https_method(r, get("location_source"))
    where = place(r, "location_source", method, raw, (lat, lon))
    location = None
    if not isinstance(where, NoLocationReason):
        floor = get("location_floor") or None
        location = Location(*where, radius, altitude, vertical, floor, certainty, method, when)
    if "v" not in fields:
        r.problem("v", "missing")
    return AmlReport(
        version=r.whole("v", get("v"), 0, 999),
        location=location,
        no_location=where if isinstance(where, NoLocationReason) else None,
        imsi=r.digits("device_imsi", get("device_imsi"), 14, 15),
        imei=r.digits("device_imei", get("device_imei"), 14, 16),
        mcc=r.digits("cell_network_mcc", get("cell_network_mcc"), 3, 3, keep=False),
        mnc=r.digits("cell_network_mnc", get("cell_network_mnc"), 2, 3, keep=False),
        home_mcc=r.digits("cell_home_mcc", get("cell_home_mcc"), 3, 3, keep=False),
        home_mnc=r.digits("cell_home_mnc", get("cell_home_mnc"), 2, 3, keep=False),
        emergency_number=get("emergency_number") or None,
        call_time=r.epoch("time", get("time"), milliseconds=True),
        language=get("device_languages") or None,
        device_number=get("device_number") or None,
        extra=tuple((k, v) for k, v in fields.items() if k not in _HTTPS_KEYS),
        problems=tuple(r.problems),
        raw=text,
    )


def parse_etsi_https(body: bytes, *, strict: bool = False) -> AmlReport:
    """ETSI TS 103 625 HTTPS form (as handsets POST it) to a report; never raises unless strict."""
    text = body.decode("utf-8", errors="replace")
    try:
        report = _parse_https(text)
    except Exception as exc:  # lenient parsing must never lose an AML message
        problem = AmlProblem("", f"internal parser error: {exc!r}")
        report = AmlReport(version=None, location=None, problems=(problem,), raw=text)
    if strict and report.problems:
        raise AmlParseError(report.problems)
    return report


# --- PIDF-LO (RFC 4119, RFC 5491 shapes, RFC 7459 confidence) --------------------------------

_NS = {
    "": "urn:ietf:params:xml:ns:pidf",
    "gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
    "gml": "http://www.opengis.net/gml",
    "gs": "http://www.opengis.net/pidflo/1.0",
    "ca": "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr",
    "con": "urn:ietf:params:xml:ns:geopriv:conf",
}
_METRES = "urn:ogc:def:uom:EPSG::9001"
_DEGREES = "urn:ogc:def:uom:EPSG::9102"
_CRS_2D, _CRS_3D = "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG::4979"
_PIDF_METHODS = {  # RFC 4119 method tokens (IANA registry)
    PositioningMethod.GNSS: "GPS",
    PositioningMethod.WIFI: "802.11",
    PositioningMethod.CELL: "Cell",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    """Text made safe for XML 1.0 character data."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _shape(loc: Location) -> str:
    """RFC 5491: Ellipsoid (3D with both accuracies), Circle (2D with radius), else Point."""
    pos = f"{_num(loc.latitude)} {_num(loc.longitude)}"
    radius, vertical = loc.radius_m, loc.vertical_accuracy_m
    if loc.altitude_m is not None and radius is not None and vertical is not None:
        return (
            f'<gs:Ellipsoid srsName="{_CRS_3D}"><gml:pos>{pos} {_num(loc.altitude_m)}</gml:pos>'
            f'<gs:semiMajorAxis uom="{_METRES}">{_num(radius)}</gs:semiMajorAxis>'
            f'<gs:semiMinorAxis uom="{_METRES}">{_num(radius)}</gs:semiMinorAxis>'
            f'<gs:verticalAxis uom="{_METRES}">{_num(vertical)}</gs:verticalAxis>'
            f'<gs:orientation uom="{_DEGREES}">0</gs:orientation></gs:Ellipsoid>'
        )
    if radius is not None:
        return (
            f'<gs:Circle srsName="{_CRS_2D}"><gml:pos>{pos}</gml:pos>'
            f'<gs:radius uom="{_METRES}">{_num(radius)}</gs:radius></gs:Circle>'
        )
    return f'<gml:Point srsName="{_CRS_2D}"><gml:pos>{pos}</gml:pos></gml:Point>'


def _location_info(loc: Location | None) -> str:
    if loc is None:
        return "<gp:location-info/>"
    parts = [_shape(loc)]
    if loc.floor is not None:
        parts.append(f"<ca:civicAddress><ca:FLR>{_x(loc.floor)}</ca:FLR></ca:civicAddress>")
    if loc.confidence_pct is not None:
        parts.append(f'<con:confidence pdf="normal">{_num(loc.confidence_pct)}</con:confidence>')
    return "<gp:location-info>" + "".join(parts) + "</gp:location-info>"


def _entity(ctx: AmlContext, report: AmlReport) -> str:
    number = ctx.sender_msisdn or report.device_number
    if number and number.removeprefix("+").isdigit():
        return "tel:+" + number.removeprefix("+")
    return "pres:anonymous@anonymous.invalid"


def render_pidf_lo(report: AmlReport, ctx: AmlContext) -> bytes:
    """RFC 4119 PIDF-LO with an RFC 5491 shape; no location -> empty location-info and a note."""
    loc = report.location
    namespaces = " ".join(
        f"xmlns{':' + prefix if prefix else ''}={quoteattr(uri)}" for prefix, uri in _NS.items()
    )
    tuple_id = "aml-" + re.sub(r"[^A-Za-z0-9._-]", "_", str(ctx.report_id or "report"))
    method = None if loc is None or loc.method is None else _PIDF_METHODS.get(loc.method)
    stamp = _iso(loc.time if loc is not None and loc.time is not None else ctx.received_at)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<presence {namespaces} entity={quoteattr(_entity(ctx, report))}>",
        f'<tuple id="{tuple_id}"><status><gp:geopriv>',
        _location_info(loc),
        "<gp:usage-rules/>",
        "" if method is None else f"<gp:method>{method}</gp:method>",
        "</gp:geopriv></status>",
        "" if loc is not None else f"<note>no location: {report.no_location or 'unknown'}</note>",
        "" if stamp is None else f"<timestamp>{stamp}</timestamp>",
        "</tuple></presence>",
    ]
    return "\n".join(line for line in lines if line).encode("utf-8")


_RENDERERS = {
    AmlFormat.JSON: render_json,
    AmlFormat.ETSI_HTTPS: render_etsi_https,
    AmlFormat.PIDF_LO: render_pidf_lo,
}


def render(format: str, report: AmlReport, ctx: AmlContext) -> tuple[bytes, str]:
    """(body, content type) of `report` in the route's format: json | etsi-https | pidf-lo."""
    try:
        kind = AmlFormat(format)
    except ValueError:
        raise AmlFormatError(
            f"unknown AML format {format!r}: json, etsi-https or pidf-lo"
        ) from None
    return _RENDERERS[kind](report, ctx), CONTENT_TYPES[kind]
