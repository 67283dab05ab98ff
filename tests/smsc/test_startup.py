"""`smsc serve` and `smsc config check` as an operator runs them: a real process, one line on
stderr naming what failed and where, and the exit status (2 configuration, 1 environment)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsc import __version__
from tests.e2e.conftest import free_port


def run_smsc(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMSC__")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "smsc", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def listeners() -> dict[str, str]:
    port = free_port()
    return {
        "SMSC__SIP__LISTEN": f"udp:127.0.0.1:{port},tcp:127.0.0.1:{port}",
        "SMSC__HTTP__LISTEN": f"127.0.0.1:{free_port()}",
    }


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed start leaves on stderr (log lines have a timestamp)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("smsc: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_version_and_python_dash_m(tmp_path: Path) -> None:
    result = run_smsc("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"smsc {__version__} (SIP data plane: ")


def test_config_check_prints_the_effective_configuration_with_secrets_masked(
    tmp_path: Path,
) -> None:
    result = run_smsc(
        "config",
        "check",
        cwd=tmp_path,
        env={
            "SMSC__HTTP__API_TOKEN": "0123",
            "SMSC__STORAGE__DATABASE_URL": "postgres://smsc:s3cret@db.example/smsc",
            "SMSC__SMSC__HOME_PLMNS": "00101",
            "SMSC__SMSC__SC_ADDRESS": "+491710760000",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout
    assert "0123" not in result.stdout
    assert "database_url: postgresql+asyncpg://smsc:***@db.example/smsc" in result.stdout
    assert "api_token: '***'" in result.stdout
    assert "- '00101'" in result.stdout
    assert "sc_address: '+491710760000'" in result.stdout


def test_config_check_reports_every_error_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "smsc.yaml"
    config.write_text(
        "http: {listen: '127.0.0.1:99999'}\n"
        "aml: {psaps: [{name: p, numbers: ['112'], url: 'psap.example/aml'}]}\n"
    )
    result = run_smsc("config", "check", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == [
        "smsc: configuration error: aml.psaps[0].url: 'psap.example/aml' is not an http:// or"
        " https:// URL with a host",
        "smsc: configuration error: http.listen: '127.0.0.1:99999': port 99999 is out of range"
        " 1-65535",
    ]


def test_config_check_reports_workers_that_cannot_run(tmp_path: Path) -> None:
    result = run_smsc(
        "config",
        "check",
        cwd=tmp_path,
        env={
            "SMSC__SIP__WORKERS": "2",
            "SMSC__SIP__LISTEN": '["tcp:127.0.0.1:5060"]',
        },
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert one_line(result).startswith(
        "smsc: configuration error: sip.workers 2: not possible with no udp: entry in sip.listen"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SMSC__HTTP__LISTEN": "127.0.0.1:99999"}, "http.listen: '127.0.0.1:99999': port 99999"),
        (
            {"SMSC__AML__PSAPS": '[{"name": "p", "numbers": ["112"], "url": "nowhere"}]'},
            "aml.psaps[0].url: 'nowhere' is not an http:// or https:// URL",
        ),
        ({"SMSC__SMSC__HOME_PLMNS": '["2620"]'}, "smsc.home_plmns[0]: '2620' is not MCC+MNC"),
        ({"SMSC__SIP__T1_MS": "soon"}, "sip.t1_ms: Input should be a valid integer"),
        ({"SMSC__STORAGE__DATABASE_URL": "mysql://h/db"}, "storage.database_url: 'mysql'"),
        ({"SMSC__SIP__NOPE": "1"}, "sip.nope: unknown key"),
    ],
)
def test_serve_refuses_a_bad_configuration_with_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("smsc: configuration error: ")
    assert expected in line
    assert not (tmp_path / "var").exists()  # nothing was created


@pytest.fixture
def udp_port_in_use() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        yield taken.getsockname()[1]


def test_serve_reports_a_sip_port_in_use_before_touching_the_database(
    tmp_path: Path, udp_port_in_use: int
) -> None:
    env = listeners() | {"SMSC__SIP__LISTEN": f"udp:127.0.0.1:{udp_port_in_use}"}
    result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert one_line(result) == (
        f"smsc: cannot start: sip.listen udp:127.0.0.1:{udp_port_in_use}: "
        "[Errno 98] Address already in use"
    )
    assert not (tmp_path / "var").exists()  # the migrations did not run


def test_serve_reports_an_http_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = listeners() | {"SMSC__HTTP__LISTEN": f"127.0.0.1:{port}"}
        result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert one_line(result).startswith(f"smsc: cannot start: http.listen 127.0.0.1:{port}: ")
    assert "Address already in use" in one_line(result)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_reports_an_unreachable_database_with_the_password_masked(tmp_path: Path) -> None:
    port = closed_port()
    env = listeners() | {
        "SMSC__STORAGE__DATABASE_URL": f"postgresql://smsc:s3cret@127.0.0.1:{port}/smsc"
    }
    result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(
        f"smsc: cannot start: database postgresql+asyncpg://smsc:***@127.0.0.1:{port}/smsc: "
    )
    assert "refused" in line.lower()
    assert "s3cret" not in result.stderr


def test_serve_reports_an_unreachable_redis(tmp_path: Path) -> None:
    port = closed_port()
    env = listeners() | {"SMSC__STORAGE__REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(f"smsc: cannot start: Redis redis://127.0.0.1:{port}/0: ")
    assert "refused" in line.lower()
    assert not (tmp_path / "var").exists()  # Redis is checked before the migrations


def test_serve_reports_an_invalid_emergency_numbers_file_as_configuration(tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.yaml"
    numbers.write_text(json.dumps({"default": ["11x"]}))
    env = listeners() | {"SMSC__SMSC__EMERGENCY_NUMBERS_FILE": str(numbers)}
    result = run_smsc("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert one_line(result) == "smsc: cannot start: emergency numbers: default: not a number: 11x"


def test_debug_shows_the_traceback(tmp_path: Path, udp_port_in_use: int) -> None:
    env = listeners() | {"SMSC__SIP__LISTEN": f"udp:127.0.0.1:{udp_port_in_use}"}
    result = run_smsc("serve", "--debug", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "smsc: cannot start: sip.listen" in result.stderr
