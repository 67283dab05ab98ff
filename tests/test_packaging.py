"""What the wheel ships: every package of the tree, config/ as the package data that the
code reads at run time (a checkout hides a missing file; an installed wheel does not), and the
C SIP scanner when a compiler is there (the wheel builds without it when not)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

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


def test_every_folder_of_modules_is_a_package() -> None:
    """A folder of modules without __init__.py imports from a checkout (a namespace package)
    but is left out of the wheel: `smsc.workers` once was."""
    folders = {
        module.parent
        for top in TOP_LEVEL
        for module in (ROOT / top).rglob("*.py")
        if "__pycache__" not in module.parts
    }
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert missing == []


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


SOURCE_TREE = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "config")


def wheel_names(tmp_path: Path, cc: str) -> list[str]:
    """The files of the wheel that `pip wheel` builds from a fresh copy of the tree with CC=cc."""
    tree = tmp_path / "tree"
    tree.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info", "build")
    for name in (*SOURCE_TREE, *TOP_LEVEL):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, tree / name)
    env = {name: value for name, value in os.environ.items() if name != "SMSC_PURE_PYTHON"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(tree)],
        env={**env, "CC": cc, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("smsc-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc to build the C scanner with")
def test_the_wheel_carries_the_c_scanner_when_gcc_is_there(tmp_path: Path) -> None:
    scanner = sorted(name for name in wheel_names(tmp_path, "gcc") if "/_scan" in name)
    assert len(scanner) == 2, scanner  # the module and its stub; no C sources
    assert scanner[0].startswith("smsc/sip/_scan.") and scanner[0].endswith(".so")
    assert scanner[1] == "smsc/sip/_scan.pyi"


def test_without_a_compiler_the_wheel_is_pure_python(tmp_path: Path) -> None:
    names = wheel_names(tmp_path, str(tmp_path / "no-such-compiler"))
    assert "smsc/sip/scan.py" in names and "smsc/sip/native.py" in names
    assert [name for name in names if "/_scan" in name] == ["smsc/sip/_scan.pyi"]
