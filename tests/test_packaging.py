"""What the wheel ships: every package of the tree, and config/ as the package data that the
code reads at run time (a checkout hides a missing file; an installed wheel does not)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
TOP_LEVEL = ("smsc", "charging", "aml")


def packages_in_tree() -> set[str]:
    found = set()
    for top in TOP_LEVEL:
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_of_the_tree_is_listed_and_nothing_else() -> None:
    assert set(SETUPTOOLS["packages"]) == packages_in_tree() | {"smsc.shipped"}


def test_config_ships_as_smsc_shipped() -> None:
    assert SETUPTOOLS["package-dir"] == {"smsc.shipped": "config"}
    assert SETUPTOOLS["package-data"]["smsc.shipped"] == ["*.yaml"]
    for name in ("smsc.yaml", "emergency-numbers.yaml"):
        assert (ROOT / "config" / name).is_file()
        shipped = files("smsc.shipped") / name
        assert shipped.read_bytes() == (ROOT / "config" / name).read_bytes()


def test_no_module_reads_files_beside_the_source_tree() -> None:
    """Run-time data comes through importlib.resources, never from a path beside the code."""
    offenders = [
        str(path.relative_to(ROOT))
        for top in TOP_LEVEL
        for path in (ROOT / top).rglob("*.py")
        if "parents[1]" in path.read_text(encoding="utf-8")
        or '/ "config"' in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_license_is_shipped() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
