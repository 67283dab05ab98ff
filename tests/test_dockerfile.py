"""The Dockerfile ships every top-level package that pyproject.toml declares, runs as non-root,
and its configuration listens where a published port can reach it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from smsc.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTION = re.compile(r"^(?P<op>[A-Z]+)\s+(?P<args>.*)$")


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        match = INSTRUCTION.match(line.strip())
        if match:
            found.append((match["op"], match["args"]))
    return found


def copied_sources() -> set[str]:
    sources = set()
    for op, args in instructions():
        if op == "COPY":
            *items, _destination = args.split()
            sources.update(item.rstrip("/") for item in items if not item.startswith("--"))
    return sources


def top_level_packages() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    mapped = setuptools.get("package-dir", {})
    tops = set()
    for package in setuptools["packages"]:
        if package in mapped:  # a package whose files live elsewhere (smsc.shipped = config)
            tops.add(mapped[package].split("/")[0])
        else:
            tops.add(package.split(".")[0])
    return tops


def test_every_top_level_package_and_the_shipped_config_is_copied() -> None:
    assert top_level_packages() == {"smsc", "charging", "aml", "config"}
    assert top_level_packages() <= copied_sources()
    assert {"pyproject.toml", "README.md", "LICENSE", "constraints.txt"} <= copied_sources()


def test_installs_with_the_pinned_constraints() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "-c constraints.txt" in runs


def test_runs_as_non_root_with_a_volume_and_a_healthcheck() -> None:
    ops = dict(instructions())
    user = ops["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert "/var/lib/smsc" in ops["VOLUME"]
    assert "/healthz" in ops["HEALTHCHECK"]
    assert ops["CMD"] == '["serve", "-c", "/etc/smsc/smsc.yaml"]'


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
