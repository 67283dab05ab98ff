"""Configuration: shipped file = embedded defaults, environment overrides typed by the model,
every error reported at once and naming its key."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from smsc.settings import ChargingPeer, Settings, SettingsError, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "smsc.yaml"


def problems_of(tmp_path: Path, yaml_text: str | None, **environ: str) -> list[str]:
    path = None
    if yaml_text is not None:
        path = tmp_path / "smsc.yaml"
        path.write_text(yaml_text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ=environ)
    return caught.value.problems


def test_shipped_file_is_exactly_the_embedded_defaults() -> None:
    assert load_settings(SHIPPED, environ={}) == Settings()
    assert load_settings(None, environ={}) == Settings()


def test_the_packaged_copy_is_the_shipped_file() -> None:
    packaged = files("smsc.shipped") / "smsc.yaml"
    assert packaged.read_text(encoding="utf-8") == SHIPPED.read_text(encoding="utf-8")


def test_environment_overrides_any_key() -> None:
    settings = load_settings(
        SHIPPED,
        environ={
            "SMSC__SIP__PSI": "sip:smsc@ims.example.net",
            "SMSC__STORAGE__DATABASE_URL": "postgresql+asyncpg://127.0.0.1/test",
            "SMSC__SMSC__HOME_PLMNS": '["26201", "26202"]',
            "SMSC__CHARGING__PEERS": '[{"host": "a", "address": "127.0.0.2", "port": 3869}]',
            "SMSC__CHARGING__ENABLED": "true",
            "SMSC__SIP__NEXT_HOP": "null",
            "smsc__logging__level": "debug",
            "UNRELATED": "x",
        },
    )
    assert settings.sip.psi == "sip:smsc@ims.example.net"
    assert settings.storage.database_url.startswith("postgresql+asyncpg")
    assert settings.smsc.home_plmns == ("26201", "26202")
    assert settings.charging.peers == (ChargingPeer("a", "127.0.0.2", 3869),)
    assert settings.charging.enabled is True
    assert settings.sip.next_hop is None
    assert settings.logging.level == "debug"


def test_environment_overrides_one_key_and_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "smsc.yaml"
    path.write_text("sip: {psi: 'sip:a@b.example', t1_ms: 300}\n")
    settings = load_settings(path, environ={"SMSC__SIP__T1_MS": "200"})
    assert (settings.sip.psi, settings.sip.t1_ms) == ("sip:a@b.example", 200)


def test_environment_values_are_typed_by_the_model_not_by_yaml() -> None:
    """Measured: +491710760000 crashed start, 0123 became the token 83, 00101 became '65'."""
    settings = load_settings(
        None,
        environ={
            "SMSC__SMSC__SC_ADDRESS": "+491710760000",
            "SMSC__HTTP__API_TOKEN": "0123",
            "SMSC__SMSC__HOME_PLMNS": "00101, 26201",
        },
    )
    assert settings.smsc.sc_address == "+491710760000"
    assert settings.http.api_token == "0123"
    assert settings.smsc.home_plmns == ("00101", "26201")


def test_numbers_in_the_file_stay_strings_where_the_key_is_a_string(tmp_path: Path) -> None:
    path = tmp_path / "smsc.yaml"
    path.write_text(
        "smsc: {home_plmns: [00101], sc_address: +491710760000}\n"
        "aml: {psaps: [{name: a, numbers: [112, 0112], url: 'http://127.0.0.1:1/', mccs: [001]}]}\n"
        "charging: {timeout_ms: 1500, watchdog_s: 6}\n"
        "http: {api_token: 0123}\n"
    )
    settings = load_settings(path, environ={})
    assert settings.smsc.home_plmns == ("00101",)
    assert settings.smsc.sc_address == "+491710760000"
    assert settings.aml.psaps[0].numbers == ("112", "0112")
    assert settings.aml.psaps[0].mccs == ("001",)
    assert settings.http.api_token == "0123"
    assert (settings.charging.timeout_ms, settings.charging.watchdog_s) == (1500, 6)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:pw@db.example/smsc", "postgresql+asyncpg://u:pw@db.example/smsc"),
        ("postgresql://db.example:5433/smsc", "postgresql+asyncpg://db.example:5433/smsc"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("sqlite+aiosqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
    ],
)
def test_database_urls_are_normalised_to_our_drivers(url: str, expected: str) -> None:
    settings = load_settings(None, environ={"SMSC__STORAGE__DATABASE_URL": url})
    assert settings.storage.database_url == expected


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        # The measured rows of the issue, one per class.
        ("http: {listen: '127.0.0.1:99999'}", "http.listen: '127.0.0.1:99999': port 99999 is"),
        ("sip: {listen: ['udp:127.0.0.1:70000']}", "sip.listen[0]: "),
        (
            "aml: {psaps: [{name: a, numbers: ['112'], url: 'ftp://psap'}]}",
            "aml.psaps[0].url: 'ftp://psap' is not an http:// or https:// URL",
        ),
        ("aml: {psaps: [{name: a, numbers: ['112'], url: 'http://p', format: xml}]}", "format"),
        ("delivery: {status_report_webhook: 'mailto:x@y'}", "delivery.status_report_webhook"),
        ("storage: {database_url: 'mysql://h/db'}", "storage.database_url: 'mysql'"),
        ("storage: {database_url: 'postgresql://h'}", "needs a database name"),
        ("storage: {redis_url: 'http://h'}", "storage.redis_url: expected redis://"),
        ("sip: {t1_ms: 0}", "sip.t1_ms: Input should be greater than 0"),
        ("smsc: {tr1m_s: -1}", "smsc.tr1m_s"),
        ("charging: {peers: [{host: a, address: b, port: 0}]}", "charging.peers[0].port"),
        ("charging: {failure_handling: maybe}", "charging.failure_handling"),
        ("smsc: {home_plmns: ['2620']}", "smsc.home_plmns[0]: '2620' is not MCC+MNC"),
        ("smsc: {sc_address: '+49-171'}", "smsc.sc_address"),
        ("smsc: {emergency_numbers_file: /nonexistent.yaml}", "smsc.emergency_numbers_file"),
        ("sip: {trusted_peers: ['not-a-net']}", "sip.trusted_peers[0]: 'not-a-net' is not a net"),
        ("sip: {psi: 'mailto:x'}", "sip.psi"),
        ("http: {listen: nohostport}", "http.listen: 'nohostport' is not HOST:PORT"),
        ("logging: {level: loud}", "logging.level"),
        ("sip: {unknown: 1}", "sip.unknown: unknown key"),
        ("nonsense: {}", "nonsense: unknown section"),
        ("sip: [1, 2]", "sip: "),
        ("sip: {listen: [", "smsc.yaml: not valid YAML"),
        ("- a", "expected a mapping of sections"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path: Path, yaml_text: str, expected: str) -> None:
    problems = problems_of(tmp_path, yaml_text)
    assert expected in problems[0], problems


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        "sip: {listen: ['udp:127.0.0.1:0'], t1_ms: 0}\n"
        "http: {listen: '127.0.0.1:99999'}\n"
        "delivery: {jitter: 2, retry_factor: 0.5}\n"
        "bogus: 1\n",
    )
    keys = sorted(line.split(":", 1)[0] for line in problems)
    assert keys == [
        "bogus",
        "delivery.jitter",
        "delivery.retry_factor",
        "http.listen",
        "sip.listen[0]",
        "sip.t1_ms",
    ]


def test_secrets_are_not_repeated_in_errors(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, None, SMSC__HTTP__API_TOKEN="with space s3cret")
    assert problems[0].startswith("http.api_token:")
    assert "s3cret" not in problems[0]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"SMSC__PSI": "x"}, "SMSC__PSI: expected SMSC__SECTION__KEY"),
        ({"SMSC__NOPE__KEY": "x"}, "SMSC__NOPE__KEY: unknown section 'nope'"),
        ({"SMSC__SIP__LISTN": "x"}, "sip.listn: unknown key"),
        ({"SMSC__CHARGING__PEERS": "[{host: a}]"}, "SMSC__CHARGING__PEERS: lists and mappings"),
        ({"SMSC__HTTP__LISTEN": "0.0.0.0:0"}, "http.listen: '0.0.0.0:0': port 0 is out of range"),
        ({"SMSC__CHARGING__ENABLED": "perhaps"}, "charging.enabled"),
    ],
)
def test_invalid_environment_names_the_variable_or_key(
    tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    problems = problems_of(tmp_path, None, **environ)
    assert len(problems) == 1, problems
    assert expected in problems[0]
