"""How many processes `sip.workers` gives (smsc/app.py) and the worker role's option."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smsc.app import available_cores, worker_processes
from smsc.errors import StartupError
from smsc.settings import load_settings
from smsc.workers.link import WorkerRole

CHARGING = {
    "SMSC__CHARGING__ENABLED": "true",
    "SMSC__CHARGING__PEERS": '[{"host": "ocs.example.net", "address": "127.0.0.1", "port": 3868}]',
}


def test_auto_is_one_process_per_core() -> None:
    assert worker_processes(load_settings(environ={})) == min(available_cores(), 8)


def test_cores_are_the_affinity_within_the_cgroup_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    limit = tmp_path / "cpu.max"
    limit.write_text("max 100000\n")
    assert available_cores(limit) == affinity
    limit.write_text("150000 100000\n")  # docker --cpus=1.5: two processes
    assert available_cores(limit) == min(affinity, 2)
    limit.write_text("50000 100000\n")
    assert available_cores(limit) == 1
    assert available_cores(tmp_path / "absent") == affinity


@pytest.mark.parametrize(
    "environ",
    [
        {"SMSC__SIP__LISTEN": '["tcp:127.0.0.1:5060"]'},
        {"SMSC__STORAGE__DATABASE_URL": "sqlite+aiosqlite:///:memory:"},
    ],
)
def test_auto_is_one_process_where_workers_cannot_run(environ: dict[str, str]) -> None:
    assert worker_processes(load_settings(environ=environ)) == 1
    assert worker_processes(load_settings(environ={**environ, "SMSC__SIP__WORKERS": "1"})) == 1
    with pytest.raises(StartupError, match=r"sip\.workers 3: not possible with") as raised:
        worker_processes(load_settings(environ={**environ, "SMSC__SIP__WORKERS": "3"}))
    assert raised.value.exit_status == 2


def test_charging_runs_in_every_process_when_asked_for() -> None:
    """The workers' MO are charged by the main process (one Diameter identity); `auto` stays
    at one process with charging (measured no faster with two on 2 cores)."""
    assert worker_processes(load_settings(environ={**CHARGING, "SMSC__SIP__WORKERS": "3"})) == 3
    assert worker_processes(load_settings(environ=CHARGING)) == 1


def test_an_explicit_number_is_kept() -> None:
    assert worker_processes(load_settings(environ={"SMSC__SIP__WORKERS": "5"})) == 5


def test_worker_role_option() -> None:
    assert WorkerRole.parse("2:3:17") == WorkerRole(2, 3, 17)
    for bad in ("0:3:17", "3:3:17", "1:2:-1", "1:2", "a:b:c"):
        with pytest.raises(ValueError):
            WorkerRole.parse(bad)
