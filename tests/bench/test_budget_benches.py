"""Smoke tests of bench/wire_ceiling.py and bench/store_insert.py: they run and report every
figure (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from bench import store_insert, wire_ceiling


@pytest.mark.parametrize("workers", [1, 2])
def test_wire_ceiling_completes_every_mo(workers: int, capsys: pytest.CaptureFixture[str]) -> None:
    count = 10_000
    assert wire_ceiling.main(["--count", str(count), "--workers", str(workers), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["completed"] == count and report["errors"] == 0
    assert report["throughput"] > 0
    assert len(report["worker_cpu_s"]) == workers
    if workers == 2:  # one generator socket, spread over both workers by the BPF program
        assert all(cpu > 0 for cpu in report["worker_cpu_s"])


def test_store_insert_reports_each_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert store_insert.main(["--rows", "400", "--batch", "20", "--batch", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 400 and report["row_building_us"] > 0
    for batch in ("batch_20", "batch_100"):
        assert report[batch]["cpu_us_per_row"] > 0 and report[batch]["wall_us_per_row"] > 0
