"""Smoke test of bench/codec.py: every metric gets a figure (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from bench import codec

RATES = {
    "tpdu_decode",
    "tpdu_decode.SMS_DELIVER",
    "tpdu_decode.SMS_SUBMIT",
    "tpdu_decode.SMS_STATUS_REPORT",
    "tpdu_decode.SMS_DELIVER_REPORT",
    "body_decode",
    "body_encode",
    "subset_ours",
    "subset_smspdudecoder",
}


def test_quick_run_reports_every_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert codec.main(["--quick", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])

    assert set(report["rates"]) == RATES
    assert all(rate > 0 for rate in report["rates"].values())
    assert report["speedup"] > 0
    assert set(report["targets"]) == {"tpdu_decode", "speedup"}
    assert report["corpus"]["tpdus"] == sum(
        report["counts"][name] for name in RATES if name.startswith("tpdu_decode.")
    )
    assert report["machine"]["cpu_count"]
    assert report["date"]


def test_text_lines_name_every_metric() -> None:
    report = codec.run(codec.Settings(repeats=1, min_time=0.001))
    lines = codec.text_lines(report)
    for name in (*RATES, "speedup_vs_smspdudecoder"):
        assert any(line.startswith(f"{name}: ") for line in lines), name
    targets = [line for line in lines if line.startswith("target ")]
    assert len(targets) == 2
    assert all(line.endswith((": PASS", ": MISS")) for line in targets)
