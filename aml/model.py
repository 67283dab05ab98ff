"""The parsed AML report (ETSI TS 103 625): location, identities and what was wrong with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

AML_HEADER = 'A"ML='
"""ETSI TS 103 625: every AML SMS starts with this, then the version (`A"ML=1`)."""


class PositioningMethod(StrEnum):
    """ETSI TS 103 625 `pm` (v1) / `ls` (v2) positioning method, by its letter."""

    GNSS = "G"
    WIFI = "W"
    CELL = "C"
    FUSED = "F"  # v2 `ls` only
    NO_LOCATION = "N"
    UNKNOWN = "U"


class NoLocationReason(StrEnum):
    """Why a report carries no location (never replaced by zeros)."""

    NO_FIX = "no-fix"  # pm=N: the handset says it has no position
    EMPTY = "empty"  # lt=/lg= (or lo=) sent with empty values
    ABSENT = "absent"  # the coordinate attributes are not in the message at all
    INVALID = "invalid"  # coordinates present but unreadable or out of range
    NOT_AML = "not-aml"  # the text is not an AML message


@dataclass(frozen=True, slots=True)
class AmlProblem:
    """One deviation from ETSI TS 103 625 found while parsing; `key` is the attribute or ''."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


@dataclass(frozen=True, slots=True)
class Location:
    """ETSI TS 103 625: WGS84 position in signed decimal degrees, distances in metres."""

    latitude: float
    longitude: float
    radius_m: float | None = None  # `rd` (v1, integer) / `lo` accuracy (v2)
    altitude_m: float | None = None  # `lz` (v2) / location_altitude (HTTPS)
    vertical_accuracy_m: float | None = None
    floor: str | None = None  # location_floor (HTTPS): a label, may be non-numeric
    confidence_pct: float | None = None  # `lc`, 0..100
    method: PositioningMethod | None = None
    time: datetime | None = None  # time of positioning, UTC


@dataclass(frozen=True, slots=True)
class AmlReport:
    """One AML message as parsed; `problems` lists every deviation, `raw` is the text received."""

    version: int | None
    location: Location | None
    no_location: NoLocationReason | None = None
    imsi: str | None = None
    imei: str | None = None
    mcc: str | None = None  # serving (network) MCC
    mnc: str | None = None  # serving MNC, leading zeros kept
    home_mcc: str | None = None  # v2 `hc` / HTTPS cell_home_mcc
    home_mnc: str | None = None
    emergency_number: str | None = None  # v2 `en` / HTTPS emergency_number
    call_time: datetime | None = None  # v2 `et` / HTTPS `time`: beginning of the call, UTC
    language: str | None = None  # v2 `lg` / HTTPS device_languages (BCP 47)
    device_number: str | None = None  # HTTPS device_number (SMS: the sender is TP-OA)
    declared_length: int | None = None  # `ml`
    actual_length: int | None = None  # characters in `raw` (SMS forms only)
    extra: tuple[tuple[str, str], ...] = ()  # unknown attributes, in order
    problems: tuple[AmlProblem, ...] = ()
    raw: str = ""

    @property
    def is_aml(self) -> bool:
        """Whether the raw text had the AML header (or the report came from the HTTPS form)."""
        return self.no_location != NoLocationReason.NOT_AML

    @property
    def length_ok(self) -> bool | None:
        """ETSI TS 103 625: `ml` equals the message length; None when `ml` was not sent."""
        if self.declared_length is None:
            return None
        return self.declared_length == self.actual_length

    @property
    def valid(self) -> bool:
        """No problem was found."""
        return not self.problems
