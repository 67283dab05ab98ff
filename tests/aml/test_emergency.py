"""Emergency numbers per country; TON/NPI variants of the dialled number compare equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from aml.emergency import (
    EmergencyNumbers,
    EmergencyNumbersError,
    load_emergency_numbers,
    parse_emergency_numbers,
)


def test_shipped_file_loads_with_the_usual_numbers() -> None:
    numbers = load_emergency_numbers()
    for dialled in ("112", "+112", "911", " 112 "):
        assert numbers.is_emergency(dialled, "262")
    assert numbers.is_emergency("110", "262")
    assert numbers.is_emergency("999", "234")
    assert numbers.is_emergency("000", "505")
    assert numbers.is_emergency("190", "724")
    assert not numbers.is_emergency("110", "234")  # not an emergency number in the UK
    assert not numbers.is_emergency("491710000001", "262")


def test_unknown_country_takes_every_known_number() -> None:
    numbers = load_emergency_numbers()
    assert numbers.is_emergency("999")
    assert numbers.is_emergency("110", None)
    assert numbers.is_emergency("110", "999")  # an MCC not in the file


def test_extra_numbers_from_psap_routes() -> None:
    numbers = load_emergency_numbers(extra=["+15555", "7777"])
    assert numbers.is_emergency("15555", "262")
    assert numbers.is_emergency("+7777", "234")


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"default": "112"},
        {"default": ["11a"]},
        {"countries": {"26": {"numbers": ["1"]}}},
        {"countries": {"262": ["110"]}},
        {"countries": []},
    ],
)
def test_invalid_documents_are_refused(document: object) -> None:
    with pytest.raises(EmergencyNumbersError):
        parse_emergency_numbers(document)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(EmergencyNumbersError):
        load_emergency_numbers(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("default: [")
    with pytest.raises(EmergencyNumbersError):
        load_emergency_numbers(broken)


def test_default_only() -> None:
    numbers = EmergencyNumbers(frozenset({"112"}))
    assert numbers.numbers_for("262") == frozenset({"112"})
