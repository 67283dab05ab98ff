"""Configuration: shipped file = embedded defaults, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsc.settings import ChargingPeer, Settings, SettingsError, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "smsc.yaml"


def test_shipped_file_is_exactly_the_embedded_defaults() -> None:
    assert load_settings(SHIPPED, environ={}) == Settings()
    assert load_settings(None, environ={}) == Settings()


def test_environment_overrides_any_key() -> None:
    settings = load_settings(
        SHIPPED,
        environ={
            "SMSC__SIP__PSI": "sip:smsc@ims.example.net",
            "SMSC__STORAGE__DATABASE_URL": "postgresql+asyncpg://127.0.0.1/test",
            "SMSC__SMSC__HOME_PLMNS": '["26201", "26202"]',
            "SMSC__CHARGING__PEERS": "[{host: a, address: 127.0.0.2, port: 3869}]",
            "SMSC__CHARGING__ENABLED": "true",
            "UNRELATED": "x",
        },
    )
    assert settings.sip.psi == "sip:smsc@ims.example.net"
    assert settings.storage.database_url.startswith("postgresql+asyncpg")
    assert settings.smsc.home_plmns == ("26201", "26202")
    assert settings.charging.peers == (ChargingPeer("a", "127.0.0.2", 3869),)
    assert settings.charging.enabled is True


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sip: {unknown: 1}", "unknown key"),
        ("nonsense: {}", "unknown section"),
        ("sip: [1, 2]", "expected a mapping"),
        ("sip: {trusted_peers: ['not-a-net']}", "not a network"),
        ("charging: {failure_handling: maybe}", "failure_handling"),
        ("aml: {psaps: [{name: x, numbers: ['112'], url: 'http://x', format: xml}]}", "format"),
        ("http: {listen: nohostport}", "HOST:PORT"),
        ("sip: {listen: [", "smsc.yaml"),
    ],
)
def test_invalid_configuration_names_the_problem(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "smsc.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


def test_malformed_environment_name_is_refused() -> None:
    with pytest.raises(SettingsError):
        load_settings(None, environ={"SMSC__PSI": "x"})
