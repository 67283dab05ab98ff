"""ETSI TS 103 625 AML SMS text: parse versions 1 and 2 (lenient or strict), format version 1.

Lenient parsing (the default) never raises: every deviation becomes an `AmlProblem` and whatever
is usable is kept. Strict parsing raises `AmlParseError` listing every problem.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aml.errors import AmlParseError
from aml.model import (
    AML_HEADER,
    AmlProblem,
    AmlReport,
    Location,
    NoLocationReason,
    PositioningMethod,
)

__all__ = [
    "FieldReader",
    "format_aml_v1",
    "parse_aml",
    "place",
    "self_counting_length",
    "time_after",
]

V1_KEYS = ("lt", "lg", "rd", "top", "lc", "pm", "si", "ei", "mcc", "mnc", "ml")
"""ETSI TS 103 625: the version 1 attributes, in the order the handset sends them."""
V2_KEYS = ("en", "et", "lo", "lt", "lc", "lz", "ls", "si", "ei", "nc", "hc", "lg", "ml")
"""Version 2 attributes as aml-lib reads them (`lt` is then an offset, `lg` a language)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_DECIMAL = re.compile(r"[+-]?[0-9]{1,20}(\.[0-9]{1,20})?", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,64}", re.ASCII)
_STAMP = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})", re.ASCII)
_NUMBER = re.compile(r"\+?[0-9*#]{1,32}", re.ASCII)
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*(,[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)*")
_V1_METHODS = frozenset("GWCNU")
_V2_METHODS = frozenset("GWCFNU")
_WITH_POSITION = frozenset(
    (
        PositioningMethod.GNSS,
        PositioningMethod.WIFI,
        PositioningMethod.CELL,
        PositioningMethod.FUSED,
    )
)


def _span(low: float | None, high: float | None) -> str:
    if high is None:
        return f"{low:g}.."
    return f"..{high:g}" if low is None else f"{low:g}..{high:g}"


class FieldReader:
    """Reads attribute values, recording problems instead of raising; empty means absent."""

    def __init__(self) -> None:
        self.problems: list[AmlProblem] = []

    def problem(self, key: str, message: str) -> None:
        """Record one deviation."""
        self.problems.append(AmlProblem(key, message))

    def number(
        self,
        key: str,
        value: str | None,
        low: float | None = None,
        high: float | None = None,
        *,
        integer: bool = False,
    ) -> float | None:
        """A signed decimal in [low, high]; an int when written as one. Decimals where an
        integer is due are kept, with a problem."""
        if not value:
            return None
        match = _DECIMAL.fullmatch(value)
        if match is None:
            self.problem(key, f"{value!r} is not a decimal number")
            return None
        number: float = float(value) if match.group(1) else int(value)
        if integer and match.group(1):
            self.problem(key, f"{value!r} is not an integer")
        if (low is not None and number < low) or (high is not None and number > high):
            self.problem(key, f"{value} is outside {_span(low, high)}")
            return None
        return number

    def whole(self, key: str, value: str | None, low: int, high: int) -> int | None:
        """An integer in [low, high] (lengths, epoch seconds)."""
        number = self.number(key, value, low, high, integer=True)
        return number if isinstance(number, int) else None

    def digits(
        self, key: str, value: str | None, shortest: int, longest: int, *, keep: bool = True
    ) -> str | None:
        """A digit string of `shortest`..`longest` digits, leading zeros kept; a wrong length
        is a problem, and the value is still returned when `keep`."""
        if not value:
            return None
        if _DIGITS.fullmatch(value) is None:
            self.problem(key, f"{value!r} is not all digits")
            return None
        if not shortest <= len(value) <= longest:
            span = f"{shortest}" if shortest == longest else f"{shortest}-{longest}"
            self.problem(key, f"{value} has {len(value)} digits, not {span}")
            return value if keep else None
        return value

    def stamp(self, key: str, value: str | None) -> datetime | None:
        """ETSI TS 103 625 `top`: YYYYMMDDhhmmss in UTC."""
        if not value:
            return None
        match = _STAMP.fullmatch(value)
        if match is not None:
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            try:
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError:
                pass
        self.problem(key, f"{value!r} is not a YYYYMMDDhhmmss time")
        return None

    def epoch(self, key: str, value: str | None, *, milliseconds: bool = False) -> datetime | None:
        """Seconds (or milliseconds) since 1970-01-01T00:00:00Z."""
        scale = 1000 if milliseconds else 1
        count = self.whole(key, value, 0, _MAX_SECONDS * scale)
        if count is None:
            return None
        return EPOCH + timedelta(milliseconds=count) if milliseconds else time_after(EPOCH, count)

    def method(
        self, key: str, value: str | None, allowed: frozenset[str]
    ) -> PositioningMethod | None:
        """ETSI TS 103 625 positioning method letter."""
        if not value:
            return None
        try:
            method = PositioningMethod(value.upper())
        except ValueError:
            self.problem(key, f"{value!r} is not a positioning method")
            return None
        if method != value:
            self.problem(key, f"{value!r} should be upper case")
        if method not in allowed:
            self.problem(key, f"{method} is not a method of this AML version")
        return method

    def text(self, key: str, value: str | None, pattern: re.Pattern[str], what: str) -> str | None:
        """Free text that should match `pattern`; kept either way."""
        if not value:
            return None
        if pattern.fullmatch(value) is None:
            self.problem(key, f"{value!r} is not {what}")
        return value


def time_after(start: datetime | None, seconds: float | None) -> datetime | None:
    """`start` plus `seconds`, or None when either is missing or the sum is out of range."""
    if start is None or seconds is None:
        return None
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        return None


def place(
    reader: FieldReader,
    method_key: str,
    method: PositioningMethod | None,
    raw: tuple[str | None, str | None],
    coordinates: tuple[float | None, float | None],
) -> tuple[float, float] | NoLocationReason:
    """(latitude, longitude), or why the message carries no usable location."""
    given = bool(raw[0]) or bool(raw[1])
    if method == PositioningMethod.NO_LOCATION:
        if given:
            reader.problem(method_key, "N (no location) but coordinates were sent; ignored")
        return NoLocationReason.NO_FIX
    if not given:
        if method in _WITH_POSITION:
            reader.problem(method_key, f"{method} claims a position but no coordinates were sent")
        return NoLocationReason.ABSENT if raw == (None, None) else NoLocationReason.EMPTY
    latitude, longitude = coordinates
    if latitude is None or longitude is None:
        if not (raw[0] and raw[1]):
            reader.problem(method_key, "only one of latitude and longitude was sent")
        return NoLocationReason.INVALID
    return latitude, longitude


def _split(text: str, reader: FieldReader) -> tuple[int | None, dict[str, str]]:
    """Version and the attributes (first occurrence wins), in order."""
    head, _, rest = text[len(AML_HEADER) :].partition(";")
    version: int | None = None
    if _DIGITS.fullmatch(head.strip()) and len(head.strip()) <= 3:
        version = int(head)
    else:
        reader.problem("", f"unreadable AML version {head[:16]!r}")
    attrs: dict[str, str] = {}
    for item in rest.split(";") if rest else ():
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key:
            reader.problem("", f"{item[:24]!r} is not a key=value attribute")
            continue
        if key != key.lower():
            reader.problem(key, "attribute names are lower case")
            key = key.lower()
        if key in attrs:
            reader.problem(key, "repeated; the first value is used")
            continue
        attrs[key] = value.strip()
    return version, attrs


def _check_length(reader: FieldReader, attrs: dict[str, str], text: str) -> int | None:
    """ETSI TS 103 625 `ml`: the message length including the header and `ml` itself."""
    declared = reader.whole("ml", attrs.get("ml"), 0, 100_000)
    if declared is not None and declared != len(text):
        reader.problem("ml", f"says {declared} characters but the message has {len(text)}")
    if "ml" in attrs and next(reversed(attrs)) != "ml":
        reader.problem("ml", "is not the last attribute")
    return declared


def _parse_v1(version: int | None, attrs: dict[str, str], text: str, r: FieldReader) -> AmlReport:
    """ETSI TS 103 625 version 1 attributes."""
    for key in V1_KEYS:
        if key not in attrs:
            r.problem(key, "missing")
    get = attrs.get
    lat, lon = r.number("lt", get("lt"), -90, 90), r.number("lg", get("lg"), -180, 180)
    radius = r.number("rd", get("rd"), 0, None, integer=True)
    confidence = r.number("lc", get("lc"), 0, 100, integer=True)
    method = r.method("pm", get("pm"), _V1_METHODS)
    when = r.stamp("top", get("top"))
    where = place(r, "pm", method, (get("lt"), get("lg")), (lat, lon))
    return AmlReport(
        version=version,
        location=None
        if isinstance(where, NoLocationReason)
        else Location(*where, radius, confidence_pct=confidence, method=method, time=when),
        no_location=where if isinstance(where, NoLocationReason) else None,
        imsi=r.digits("si", get("si"), 14, 15),
        imei=r.digits("ei", get("ei"), 14, 16),
        mcc=r.digits("mcc", get("mcc"), 3, 3, keep=False),
        mnc=r.digits("mnc", get("mnc"), 2, 3, keep=False),
        declared_length=_check_length(r, attrs, text),
        actual_length=len(text),
        extra=tuple((k, v) for k, v in attrs.items() if k not in V1_KEYS),
    )


def _parts(r: FieldReader, key: str, value: str | None, count: int) -> list[str | None]:
    """A comma-separated v2 value (`lo`, `lz`) as `count` raw parts ('' when absent)."""
    if value is None:
        return [None] * count
    parts: list[str | None] = [p.strip() for p in value.split(",")]
    if value and not 1 < len(parts) <= count:
        r.problem(key, f"{value!r} should have {count} comma-separated values")
    return (parts + [""] * count)[:count]


def _plmn(r: FieldReader, key: str, value: str | None) -> tuple[str | None, str | None]:
    """v2 `nc`/`hc`: MCC (3 digits) then MNC (2-3 digits)."""
    digits = r.digits(key, value, 5, 6, keep=False)
    return (digits[:3], digits[3:]) if digits else (None, None)


def _parse_v2(version: int, attrs: dict[str, str], text: str, r: FieldReader) -> AmlReport:
    """AML SMS version 2 as implemented by aml-lib (not in ETSI TS 103 625 V1.1.1)."""
    get = attrs.get
    raw_lat, raw_lon, raw_acc = _parts(r, "lo", get("lo"), 3)
    altitude, vertical = _parts(r, "lz", get("lz"), 2)
    lat, lon = r.number("lo", raw_lat, -90, 90), r.number("lo", raw_lon, -180, 180)
    call_time = r.epoch("et", get("et"))
    offset = r.whole("lt", get("lt"), -_MAX_SECONDS, _MAX_SECONDS)
    if offset is not None and call_time is None:
        r.problem("lt", "a positioning time offset needs `et`")
    radius, confidence = r.number("lo", raw_acc, 0), r.number("lc", get("lc"), 0, 100)
    alt, vacc = r.number("lz", altitude, -100_000, 100_000), r.number("lz", vertical, 0)
    method = r.method("ls", get("ls"), _V2_METHODS)
    where = place(r, "ls", method, (raw_lat, raw_lon), (lat, lon))
    location = None
    if not isinstance(where, NoLocationReason):
        when = time_after(call_time, offset)
        location = Location(*where, radius, alt, vacc, None, confidence, method, when)
    (mcc, mnc), (home_mcc, home_mnc) = _plmn(r, "nc", get("nc")), _plmn(r, "hc", get("hc"))
    return AmlReport(
        version=version,
        location=location,
        no_location=where if isinstance(where, NoLocationReason) else None,
        imsi=r.digits("si", get("si"), 14, 15),
        imei=r.digits("ei", get("ei"), 14, 16),
        mcc=mcc,
        mnc=mnc,
        home_mcc=home_mcc,
        home_mnc=home_mnc,
        emergency_number=r.text("en", get("en"), _NUMBER, "a dialled number"),
        call_time=call_time,
        language=r.text("lg", get("lg"), _LANGUAGE, "a BCP 47 language tag"),
        declared_length=_check_length(r, attrs, text) if "ml" in attrs else None,
        actual_length=len(text),
        extra=tuple((k, v) for k, v in attrs.items() if k not in V2_KEYS),
    )


def _parse(text: str) -> AmlReport:
    reader = FieldReader()
    if not text.startswith(AML_HEADER):
        reader.problem("", f"not an AML message: it does not start with {AML_HEADER}")
        return AmlReport(
            version=None,
            location=None,
            no_location=NoLocationReason.NOT_AML,
            actual_length=len(text),
            problems=tuple(reader.problems),
            raw=text,
        )
    version, attrs = _split(text, reader)
    if version == 2:
        report = _parse_v2(version, attrs, text, reader)
    else:
        if version is not None and version != 1:
            reader.problem("", f"AML version {version} is not known; read as version 1")
        report = _parse_v1(version, attrs, text, reader)
    return _finish(report, reader, text)


def _finish(report: AmlReport, reader: FieldReader, text: str) -> AmlReport:
    return replace(report, problems=tuple(reader.problems), raw=text)


def parse_aml(text: str, *, strict: bool = False) -> AmlReport:
    """ETSI TS 103 625 AML SMS text to a report; strict mode raises `AmlParseError`."""
    try:
        report = _parse(text)
    except Exception as exc:
        problem = AmlProblem("", f"internal parser error: {exc!r}")
        report = AmlReport(version=None, location=None, problems=(problem,), raw=text)
    if strict and report.problems:
        raise AmlParseError(report.problems)
    return report


def _whole(value: float | None) -> str:
    return "" if value is None else str(round(value))


def _stamp(value: datetime | None) -> str:
    if value is None:
        return ""
    t = value.astimezone(UTC) if value.tzinfo else value
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


def self_counting_length(prefix: int) -> int:
    """The value L of a trailing `ml=L` after `prefix` characters: prefix + digits(L) == L."""
    length = prefix + 1
    while prefix + len(str(length)) != length:
        length = prefix + len(str(length))
    return length


def format_aml_v1(report: AmlReport) -> str:
    """ETSI TS 103 625 version 1 text for a report (5 decimals, integer metres/percent)."""
    loc = report.location
    pairs = [
        ("lt", "" if loc is None else f"{loc.latitude:.5f}"),
        ("lg", "" if loc is None else f"{loc.longitude:.5f}"),
        ("rd", "" if loc is None else _whole(loc.radius_m)),
        ("top", "" if loc is None else _stamp(loc.time)),
        ("lc", "" if loc is None else _whole(loc.confidence_pct)),
        ("pm", "N" if loc is None else (loc.method or "")),
        ("si", report.imsi or ""),
        ("ei", report.imei or ""),
        ("mcc", report.mcc or ""),
        ("mnc", report.mnc or ""),
    ]
    pairs += [(k, v) for k, v in report.extra if k not in V1_KEYS]
    body = AML_HEADER + "1;" + "".join(f"{k}={v};" for k, v in pairs) + "ml="
    return body + str(self_counting_length(len(body)))
