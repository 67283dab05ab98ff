"""The Dockerfile ships every top-level package that pyproject.toml declares, installs with the
pinned versions, runs as non-root, and its configuration listens where a published port can
reach it."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from smsc.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
INSTRUCTION = re.compile(r"^(?P<op>[A-Z]+)\s+(?P<args>.*)$")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def instructions(dockerfile: str = DOCKERFILE) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        match = INSTRUCTION.match(line.strip())
        if match:
            found.append((match["op"], match["args"]))
    return found


def copied_sources(dockerfile: str = DOCKERFILE) -> set[str]:
    sources = set()
    for op, args in instructions(dockerfile):
        if op == "COPY":
            *items, _destination = args.split()
            sources.update(item.rstrip("/") for item in items if not item.startswith("--"))
    return sources


def _found_tops(find: dict[str, Any], root: Path) -> set[str]:
    """Top-level package directories that `[tool.setuptools.packages.find]` selects."""
    include = find.get("include", ["*"])
    exclude = find.get("exclude", [])
    tops = set()
    for where in find.get("where", ["."]):
        for directory in sorted((root / where).iterdir()):
            if not (directory / "__init__.py").is_file():
                continue
            name = directory.name
            # "smsc*" and "smsc" select smsc; "smsc.*" selects only its subpackages, which
            # live under the same top-level directory.
            if any(fnmatchcase(name, p) or p.startswith(name + ".") for p in include) and not any(
                fnmatchcase(name, p) for p in exclude
            ):
                tops.add(str(directory.relative_to(root)))
    return tops


def top_level_packages(pyproject: dict[str, Any] = PYPROJECT, root: Path = ROOT) -> set[str]:
    """The top-level directories whose files the wheel is built from."""
    setuptools = pyproject["tool"]["setuptools"]
    mapped = setuptools.get("package-dir", {})
    packages = setuptools.get("packages", {"find": {}})
    if isinstance(packages, dict):
        return _found_tops(packages.get("find", {}), root)
    tops = set()
    for package in packages:
        if package in mapped:  # a package whose files live elsewhere (smsc.shipped = config)
            tops.add(mapped[package].split("/")[0])
        else:
            tops.add(package.split(".")[0])
    return tops


def missing_from_image(dockerfile: str = DOCKERFILE) -> set[str]:
    return top_level_packages() - copied_sources(dockerfile)


def test_every_top_level_package_and_the_shipped_config_is_copied() -> None:
    assert top_level_packages() == {"smsc", "charging", "aml", "config"}
    for top in top_level_packages():
        assert any((ROOT / top).glob("*.py")), top
    assert missing_from_image() == set()
    assert {"pyproject.toml", "README.md", "LICENSE", "constraints.txt"} <= copied_sources()


@pytest.mark.parametrize("package", ["smsc", "charging", "aml", "config"])
def test_a_dropped_package_is_noticed(package: str) -> None:
    copy = re.compile(rf"^COPY {package} \./{package}\n", re.MULTILINE)
    assert copy.search(DOCKERFILE), f"no COPY line of its own for {package}"
    assert missing_from_image(copy.sub("", DOCKERFILE)) == {package}


def test_packages_find_include_patterns_are_understood(tmp_path: Path) -> None:
    for name in ("smsc", "smsc/api", "charging", "aml", "tests", "docs"):
        (tmp_path / name).mkdir()
        if name != "docs":
            (tmp_path / name / "__init__.py").write_text("")
    pyproject = {
        "tool": {
            "setuptools": {
                "packages": {"find": {"include": ["smsc*", "charging", "aml.*"]}},
            }
        }
    }
    assert top_level_packages(pyproject, tmp_path) == {"smsc", "charging", "aml"}
    pyproject["tool"]["setuptools"]["packages"]["find"]["exclude"] = ["charging"]
    assert top_level_packages(pyproject, tmp_path) == {"smsc", "aml"}


def test_installs_with_the_pinned_constraints() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "-c constraints.txt" in runs
    assert "python3 -m venv" in runs


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_builds_the_native_sip_data_plane() -> None:
    """setup.py (which builds smsc.sip._scan) is copied, a compiler is there while pip runs,
    and the build fails if the module was not built (pip itself only warns)."""
    assert "setup.py" in copied_sources()
    runs = [args for op, args in instructions() if op == "RUN"]
    install = next(args for args in runs if "pip install" in args)
    assert install.index("gcc") < install.index("pip install")
    assert 'python -c "import smsc.sip._scan"' in install


def test_every_declared_dependency_is_pinned() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[_normalised(name)] = version
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    for requirement in declared:
        match = REQUIREMENT_NAME.match(requirement)
        assert match, requirement
        assert _normalised(match[1]) in pins, f"{requirement} has no pin in constraints.txt"
    # redis pulls it in only on Python < 3.11.3 (Debian bookworm's python3), so a freeze on a
    # newer Python drops it.
    assert "async-timeout" in pins


def test_runs_as_non_root_with_a_volume_and_a_healthcheck() -> None:
    ops = dict(instructions())
    user = ops["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert "/var/lib/smsc" in ops["VOLUME"]
    assert "/healthz" in ops["HEALTHCHECK"]
    assert "urllib" in ops["HEALTHCHECK"]
    assert ops["ENTRYPOINT"] == '["smsc"]'
    assert ops["CMD"] == '["serve", "-c", "/etc/smsc/smsc.yaml"]'
    assert set(ops["EXPOSE"].split()) == {"5060/udp", "5060/tcp", "8080/tcp"}


TOKEN = {"SMSC__HTTP__API_TOKEN": "s3cret"}


def test_the_container_configuration_listens_on_all_interfaces() -> None:
    settings = load_settings(ROOT / "config" / "docker.yaml", environ=TOKEN)
    assert settings.http.listen == "0.0.0.0:8080"
    assert set(settings.sip.listen) == {"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"}
    assert settings.storage.database_url == "sqlite+aiosqlite:////var/lib/smsc/smsc.db"
    overridden = load_settings(
        ROOT / "config" / "docker.yaml", environ={"SMSC__HTTP__LISTEN": "0.0.0.0:9090", **TOKEN}
    )
    assert overridden.http.listen == "0.0.0.0:9090"


def test_the_container_refuses_to_open_its_api_without_a_token() -> None:
    with pytest.raises(SettingsError, match="not loopback: set api_token or tokens"):
        load_settings(ROOT / "config" / "docker.yaml", environ={})
