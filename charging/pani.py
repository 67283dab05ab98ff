"""P-Access-Network-Info (RFC 7315 §5.4, TS 24.229 §7.2A.4) and the roaming verdict it supports.

SMS over IP never reaches the visited network's SMSC, so the cell id the P-CSCF writes into
P-Access-Network-Info is the only place an SMSC learns where the sender is. ``parse_pani``
reads the header value; ``roaming_verdict`` extracts the visited MCC/MNC from the 3GPP cell id
and compares it with the home PLMNs. The verdict never raises on what the network sent: a
malformed or useless header is ``UNKNOWN`` with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from charging.errors import ChargingError, PaniSyntaxError

NETWORK_PROVIDED = "network-provided"
"""TS 24.229 §7.2A.4.2: ``np``, added by the P-CSCF (or PCRF/IP-CAN), not by the UE."""

Trust = Literal["network-provided", "any"]

_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # RFC 3261 §25.1 token
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)  # RFC 3261 §25.1 quoted-string
_BARE = re.compile(r'[^\s;,"=]+')  # token / host (IPv6 references included)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class AccessNetInfo:
    """One access-net-spec: an access-type or access-class and its access-info parameters."""

    access_type: str  # as written, e.g. "3GPP-E-UTRAN-FDD" (access-type) or "3GPP-WLAN" (class)
    params: tuple[tuple[str, str | None], ...]  # names lower-cased, quoted values unquoted
    network_provided: bool

    def param(self, name: str) -> str | None:
        """The value of the first parameter called ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((value for key, value in self.params if key == wanted), None)


def _unquote(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def parse_pani(value: str) -> list[AccessNetInfo]:
    """Parse a P-Access-Network-Info value (comma-separated access-net-specs)."""
    specs: list[AccessNetInfo] = []
    pos = _skip(value, 0)
    while True:
        access = _TOKEN.match(value, pos)
        if access is None:
            raise PaniSyntaxError(f"expected an access-type at offset {pos}")
        pos = _skip(value, access.end())
        params: list[tuple[str, str | None]] = []
        while pos < len(value) and value[pos] == ";":
            name, param_value, pos = _access_info(value, _skip(value, pos + 1))
            params.append((name, param_value))
        provided = any(name == NETWORK_PROVIDED and v is None for name, v in params)
        specs.append(AccessNetInfo(access.group(), tuple(params), provided))
        if pos == len(value):
            return specs
        if value[pos] != ",":
            raise PaniSyntaxError(f"unexpected {value[pos]!r} at offset {pos}")
        pos = _skip(value, pos + 1)


def _skip(value: str, pos: int) -> int:
    match = _SPACE.match(value, pos)
    return pos if match is None else match.end()


def _access_info(value: str, pos: int) -> tuple[str, str | None, int]:
    """access-info = name [EQUAL (token / quoted-string / host)]."""
    name = _TOKEN.match(value, pos)
    if name is None:
        raise PaniSyntaxError(f"expected a parameter name at offset {pos}")
    pos = _skip(value, name.end())
    if pos == len(value) or value[pos] != "=":
        return name.group().lower(), None, pos
    pos = _skip(value, pos + 1)
    quoted = _QUOTED.match(value, pos)
    if quoted is not None:
        return name.group().lower(), _unquote(quoted.group(1)), _skip(value, quoted.end())
    bare = _BARE.match(value, pos)
    if bare is None:
        raise PaniSyntaxError(f"parameter {name.group()!r} has no value at offset {pos}")
    return name.group().lower(), bare.group(), _skip(value, bare.end())


# --- cell identities ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CellId:
    """A 3GPP cell global identity from PANI: MCC, MNC, LAC/TAC, CI/UC-ID/ECI/NCI (hex)."""

    mcc: str
    mnc: str
    area_code: str  # LAC (GERAN, UTRAN) or TAC (E-UTRAN, NR)
    cell_identity: str  # CI, UC-ID, ECI or NCI
    value: str  # the parameter value as received

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc


# value length -> (MNC digits, area code hex digits); the cell identity is the rest.
_GERAN = {13: (2, 4), 14: (3, 4)}  # cgi-3gpp: MCC MNC LAC(4) CI(4)
_UTRAN = {16: (2, 4), 17: (3, 4)}  # utran-cell-id-3gpp: MCC MNC LAC(4) UC-ID(7)
_SAI = {13: (2, 4), 14: (3, 4)}  # utran-sai-3gpp: MCC MNC LAC(4) SAC(4)
_EUTRAN = {16: (2, 4), 17: (3, 4), 18: (2, 6), 19: (3, 6)}  # TAC(4) or, via 5GC, TAC(6); ECI(7)
_NR = {20: (2, 6), 21: (3, 6)}  # utran-cell-id-3gpp: MCC MNC TAC(6) NCI(9)

# access-type or access-class (lower case) -> the parameters that carry its cell id.
_CELL_RULES: dict[str, tuple[tuple[str, dict[int, tuple[int, int]]], ...]] = {
    "3gpp-geran": (("cgi-3gpp", _GERAN),),
    "3gpp-utran-fdd": (("utran-cell-id-3gpp", _UTRAN), ("utran-sai-3gpp", _SAI)),
    "3gpp-utran-tdd": (("utran-cell-id-3gpp", _UTRAN), ("utran-sai-3gpp", _SAI)),
    "3gpp-utran": (("utran-cell-id-3gpp", _UTRAN), ("utran-sai-3gpp", _SAI)),
    "3gpp-hspa": (("utran-cell-id-3gpp", _UTRAN), ("utran-sai-3gpp", _SAI)),
    "3gpp-e-utran-fdd": (("utran-cell-id-3gpp", _EUTRAN),),
    "3gpp-e-utran-tdd": (("utran-cell-id-3gpp", _EUTRAN),),
    "3gpp-e-utran": (("utran-cell-id-3gpp", _EUTRAN),),
    "3gpp-nr-fdd": (("utran-cell-id-3gpp", _NR),),
    "3gpp-nr-tdd": (("utran-cell-id-3gpp", _NR),),
    "3gpp-nr-u-fdd": (("utran-cell-id-3gpp", _NR),),
    "3gpp-nr-u-tdd": (("utran-cell-id-3gpp", _NR),),
    "3gpp-nr": (("utran-cell-id-3gpp", _NR),),
}

THREE_DIGIT_MNC_MCCS = frozenset(
    {302, 310, 311, 312, 313, 314, 315, 316, 330, 334, 338, 342, 344, 346, 348, 352, 354}
    | {356, 358, 360, 365, 366, 376, 708, 722, 732, 750}
)
"""ITU-T E.212 MCCs whose networks use 3-digit MNCs (North America, most of the Caribbean,
parts of Latin America). Used only when the cell id length does not settle the MNC length."""

MIXED_MNC_MCCS = frozenset([364, 374, 405])
"""MCCs with both 2- and 3-digit MNCs (India 405, Bahamas, Trinidad and Tobago)."""

_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _mnc_length(mcc: str, homes: Sequence[str]) -> tuple[int, str]:
    """MNC length when the value length is not one of the standard ones."""
    for home in homes:
        if home[:3] == mcc:
            return len(home) - 3, f"MNC length taken from home PLMN {home}"
    number = int(mcc)
    if number in THREE_DIGIT_MNC_MCCS:
        return 3, f"MCC {mcc} uses 3-digit MNCs"
    if number in MIXED_MNC_MCCS:
        return 2, f"MCC {mcc} uses 2- and 3-digit MNCs; assumed 2"
    return 2, f"MCC {mcc} uses 2-digit MNCs"


def parse_cell_id(
    value: str, lengths: dict[int, tuple[int, int]], homes: Sequence[str] = ()
) -> tuple[CellId, str]:
    """Split a cell id value (TS 24.229 §7.2A.4.3) into MCC, MNC, area code and cell identity.

    Returns the cell and a note on how the MNC length was decided; raises PaniSyntaxError.
    """
    if not value or not set(value) <= _HEX:
        raise PaniSyntaxError(f"cell id {value!r} is not hexadecimal")
    if len(value) < 8:
        raise PaniSyntaxError(f"cell id {value!r} is too short")
    mcc = value[:3]
    if not set(mcc) <= _DIGITS:
        raise PaniSyntaxError(f"MCC {mcc!r} is not decimal")
    standard = lengths.get(len(value))
    if standard is not None:
        mnc_length, area_length = standard
        note = f"{len(value)} hex digits: {mnc_length}-digit MNC"
    else:
        mnc_length, note = _mnc_length(mcc, homes)
        area_length = min(lengths.values())[1]
        note = f"non-standard length {len(value)}; {note}"
    mnc = value[3 : 3 + mnc_length]
    if not set(mnc) <= _DIGITS:
        raise PaniSyntaxError(f"MNC {mnc!r} is not decimal")
    rest = value[3 + mnc_length :]
    if len(rest) <= area_length:
        area_length = 0
    cell = CellId(mcc, mnc, rest[:area_length], rest[area_length:], value)
    return cell, note


# --- verdict -------------------------------------------------------------------------------


class RoamingStatus(StrEnum):
    """Where the sender is, relative to the home PLMNs (TS 23.122 terms)."""

    HOME = "home"
    NATIONAL_ROAMING = "national-roaming"
    INTERNATIONAL_ROAMING = "international-roaming"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RoamingVerdict:
    """The roaming status of one MO SMS and the facts it rests on."""

    status: RoamingStatus
    visited_mcc: str | None
    visited_mnc: str | None
    access_type: str | None
    cell_id: CellId | None
    reason: str

    @property
    def visited_plmn(self) -> str | None:
        if self.visited_mcc is None or self.visited_mnc is None:
            return None
        return self.visited_mcc + self.visited_mnc


def _homes(home_plmns: Sequence[str]) -> tuple[str, ...]:
    homes = tuple(home_plmns)
    for home in homes:
        if not (len(home) in (5, 6) and set(home) <= _DIGITS):
            raise ChargingError(f"home PLMN {home!r} is not MCC+MNC (5 or 6 digits)")
    return homes


def _unknown(reason: str, access_type: str | None = None) -> RoamingVerdict:
    return RoamingVerdict(RoamingStatus.UNKNOWN, None, None, access_type, None, reason)


def _cell_of(spec: AccessNetInfo, homes: Sequence[str]) -> tuple[CellId | None, str]:
    rules = _CELL_RULES.get(spec.access_type.lower())
    if rules is None:
        return None, f"{spec.access_type} carries no 3GPP cell id"
    problems = []
    for param, lengths in rules:
        value = spec.param(param)
        if value is None:
            continue
        try:
            return parse_cell_id(value, lengths, homes)
        except PaniSyntaxError as exc:
            problems.append(f"{param}: {exc}")
    if not problems:
        return None, f"{spec.access_type} without {' or '.join(p for p, _ in rules)}"
    return None, f"{spec.access_type}: " + "; ".join(problems)


def roaming_verdict(
    pani_value: str | None, home_plmns: Sequence[str], *, trust: Trust = "network-provided"
) -> RoamingVerdict:
    """Home, national or international roaming from the first usable cell id in the header.

    With ``trust="network-provided"`` only access-net-specs flagged ``network-provided`` count
    (the UE's own claim may be stale or spoofed); with ``"any"`` those still come first.
    """
    if trust not in ("network-provided", "any"):
        raise ChargingError(f"unknown PANI trust setting {trust!r}")
    homes = _homes(home_plmns)
    if pani_value is None or not pani_value.strip():
        return _unknown("no P-Access-Network-Info")
    try:
        specs = parse_pani(pani_value)
    except PaniSyntaxError as exc:
        return _unknown(f"malformed P-Access-Network-Info: {exc}")
    if trust == "network-provided":
        candidates = [spec for spec in specs if spec.network_provided]
        if not candidates:
            return _unknown("no network-provided access-net-spec", specs[0].access_type)
    else:
        candidates = sorted(specs, key=lambda spec: not spec.network_provided)
    reasons = []
    for spec in candidates:
        cell, note = _cell_of(spec, homes)
        if cell is None:
            reasons.append(note)
            continue
        if not homes:
            return RoamingVerdict(
                RoamingStatus.UNKNOWN,
                cell.mcc,
                cell.mnc,
                spec.access_type,
                cell,
                f"{note}; no home PLMN configured",
            )
        status = _status(cell, homes)
        return RoamingVerdict(status, cell.mcc, cell.mnc, spec.access_type, cell, note)
    return _unknown("; ".join(reasons), candidates[0].access_type)


def _status(cell: CellId, homes: Sequence[str]) -> RoamingStatus:
    """Same PLMN = home; another PLMN of the home country = national roaming (TS 23.122)."""
    if cell.plmn in homes:
        return RoamingStatus.HOME
    if any(home[:3] == cell.mcc for home in homes):
        return RoamingStatus.NATIONAL_ROAMING
    return RoamingStatus.INTERNATIONAL_ROAMING
