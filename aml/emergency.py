"""Emergency numbers per country (MCC), and whether a dialled TP-DA is one of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from smsc.errors import SmscError


class EmergencyNumbersError(SmscError):
    """The emergency-numbers file is invalid."""


def dialled_digits(value: str) -> str:
    """TP-DA digits as dialled: '+112', '112' and other TON/NPI variants compare equal."""
    return value.strip().removeprefix("+")


@dataclass(frozen=True, slots=True)
class EmergencyNumbers:
    """Numbers valid everywhere plus per-country (MCC) numbers."""

    default: frozenset[str]
    by_mcc: Mapping[str, frozenset[str]] = field(default_factory=dict)
    everywhere: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        union = set(self.default)
        for numbers in self.by_mcc.values():
            union |= numbers
        object.__setattr__(self, "everywhere", frozenset(union))

    def numbers_for(self, mcc: str | None) -> frozenset[str]:
        """Emergency numbers in country `mcc`; all known numbers when it is unknown."""
        if mcc is None or mcc not in self.by_mcc:
            return self.everywhere
        return self.default | self.by_mcc[mcc]

    def is_emergency(self, destination: str, mcc: str | None = None) -> bool:
        """Whether the dialled `destination` (any TON, '+' or not) is an emergency number."""
        return dialled_digits(destination) in self.numbers_for(mcc)


def _numbers(where: str, values: Any) -> frozenset[str]:
    if not isinstance(values, list):
        raise EmergencyNumbersError(f"{where}: expected a list of numbers")
    numbers = {dialled_digits(str(v)) for v in values}
    bad = sorted(n for n in numbers if not n.isdigit())
    if bad:
        raise EmergencyNumbersError(f"{where}: not a number: {', '.join(bad)}")
    return frozenset(numbers)


def parse_emergency_numbers(document: Any) -> EmergencyNumbers:
    """The YAML document of config/emergency-numbers.yaml."""
    if not isinstance(document, dict):
        raise EmergencyNumbersError("expected a mapping with 'default' and 'countries'")
    countries = document.get("countries", {})
    if not isinstance(countries, dict):
        raise EmergencyNumbersError("countries: expected a mapping keyed by MCC")
    by_mcc: dict[str, frozenset[str]] = {}
    for mcc, entry in countries.items():
        key = str(mcc)
        if not (key.isdigit() and len(key) == 3):
            raise EmergencyNumbersError(f"countries: {key!r} is not a 3-digit MCC")
        if not isinstance(entry, dict):
            raise EmergencyNumbersError(f"countries.{key}: expected a mapping")
        by_mcc[key] = _numbers(f"countries.{key}.numbers", entry.get("numbers", []))
    return EmergencyNumbers(_numbers("default", document.get("default", [])), by_mcc)


SHIPPED = files("smsc.shipped") / "emergency-numbers.yaml"
"""The list shipped in the package (config/emergency-numbers.yaml in the source tree)."""


def load_emergency_numbers(path: Path | None = None, extra: Iterable[str] = ()) -> EmergencyNumbers:
    """Load the file (the shipped one by default) and add `extra` numbers everywhere."""
    source: Path | Traversable = path or SHIPPED
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EmergencyNumbersError(f"{source}: {exc}") from None
    numbers = parse_emergency_numbers(document)
    if extra:
        numbers = EmergencyNumbers(numbers.default | _numbers("extra", list(extra)), numbers.by_mcc)
    return numbers
