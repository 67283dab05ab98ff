"""docs/configuration.md is generated from the model and the shipped file, and stays so."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from smsc.settings import Settings
from smsc.settings_reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(
    r"^\| `(?P<key>[a-z_.\[\]0-9]+)` \| (?P<type>.*?) \| (?P<default>.*?) \| (?P<meaning>.*) \|$"
)


def model_keys() -> set[str]:
    keys = set()
    defaults = Settings()
    for section in dataclasses.fields(Settings):
        for key in dataclasses.fields(getattr(defaults, section.name)):
            keys.add(f"{section.name}.{key.name}")
    return keys


def test_the_page_is_what_the_generator_prints() -> None:
    """Regenerate with: smsc config reference > docs/configuration.md"""
    assert DOC.read_text(encoding="utf-8") == render_reference()


def test_every_key_of_the_model_is_documented_with_a_meaning() -> None:
    rows = {m["key"]: m for line in render_reference().splitlines() if (m := ROW.match(line))}
    assert {key for key in rows if "[]" not in key and key.count(".") == 1} == model_keys()
    assert {"aml.intake.listen", "http.tokens[].scope"} <= set(rows)
    undocumented = sorted(key for key, row in rows.items() if not row["meaning"].strip())
    assert undocumented == []


def test_defaults_in_the_page_are_the_model_defaults() -> None:
    rows = {m["key"]: m for line in render_reference().splitlines() if (m := ROW.match(line))}
    assert rows["sip.t1_ms"]["default"] == "`500`"
    assert rows["http.listen"]["default"] == '`"127.0.0.1:8080"`'
    assert rows["smsc.home_plmns"]["default"] == '`["26201"]`'
    assert rows["sip.listen"]["type"] == r"list of udp:HOST:PORT \| tcp:HOST:PORT"
