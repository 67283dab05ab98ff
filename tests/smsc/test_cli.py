"""`smsc decode` as an operator runs it: a real process, JSON on stdout, exit status."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from smsc import __version__
from smsc.cli import decode_command
from smsc.sip.native import native_scanners
from tests.vectors import load_vectors

VECTORS = {v["id"]: v for v in load_vectors()}


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smsc.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _native_builds() -> bool:
    try:
        native_scanners()
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("native", ["0", None])
def test_version_says_which_sip_wire_path_runs(native: str | None) -> None:
    """The version line names the implementation of the SIP data plane (smsc.sip.native)."""
    env = {name: value for name, value in os.environ.items() if name != "SMSC_NATIVE"}
    if native is not None:
        env["SMSC_NATIVE"] = native
    result = subprocess.run(
        [sys.executable, "-m", "smsc.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    path = "native (C)" if native is None and _native_builds() else "python"
    assert result.stdout.startswith(f"smsc {__version__} (SIP data plane: {path}; ")


def test_decode_prints_the_design_schema() -> None:
    result = _run("decode", VECTORS["mt-rpdata-deliver-empty-rpda-pycrate"]["hex"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["rp"] == {
        "type": "RP-DATA",
        "mti": 1,
        "direction": "network-to-ms",
        "mr": 1,
        "originator": {"ton": 1, "npi": 1, "digits": "33689004000"},
        "destination": None,
        "cause": None,
        "user_data_hex": "040b913306000000f000007101911172758004d4f29c0e",
    }
    tp = document["tp"]
    assert tp["type"] == "SMS-DELIVER"
    assert tp["originator"] == {"ton": 1, "npi": 1, "digits": "33600000000"}
    assert tp["scts"] == "2017-10-19T11:27:57+02:00"
    assert (tp["text"], tp["encoding"], tp["dcs"], tp["pid"]) == ("Test", "gsm7", 0, 0)
    assert (tp["mms"], tp["sri"], tp["udhi"], tp["rp"]) == (True, False, False, False)


def test_decode_reads_stdin_and_tshark_style_hex() -> None:
    result = _run("decode", "-", stdin="06:43\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "rp": {
            "type": "RP-SMMA",
            "mti": 6,
            "direction": "ms-to-network",
            "mr": 0x43,
            "originator": None,
            "destination": None,
            "cause": None,
            "user_data_hex": None,
        },
        "tp": None,
    }


@pytest.mark.parametrize(
    ("hex_body", "cause"),
    [
        ("0501", 96),
        ("0701", 97),
        ("0901190001", 97),
        ("zz", None),
        ("00010007913121550501f01901ff0b9171", 96),
    ],
)
def test_malformed_input_exits_2_with_reason_and_json(hex_body: str, cause: int | None) -> None:
    result = _run("decode", hex_body)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    document = json.loads(result.stdout)
    assert document["error"]
    assert document["rp_cause"] == cause


def test_tpdu_error_keeps_the_rp_part_and_reports_tp_fcs() -> None:
    status, document, reason = decode_command("0001000791947101670000" + "0203" + "01")
    assert status == 2
    assert reason is not None
    assert document["rp"]["type"] == "RP-DATA"
    assert document["rp_cause"] == 95
    assert document["tp_fcs"] is not None


@pytest.mark.parametrize("vector_id", sorted(VECTORS))
def test_every_vector_decodes_or_is_rejected(vector_id: str) -> None:
    vector: dict[str, Any] = VECTORS[vector_id]
    status, document, _ = decode_command(vector["hex"])
    if status == 0:
        assert document["rp"]["mti"] == vector["tshark_decoded"]["rp"]["msg_type"]
        expected_tp = vector["tshark_decoded"]["tp"]
        if expected_tp is None:
            assert document["tp"] is None
        else:
            assert document["tp"]["type"] == expected_tp["name"]
            if "text" in expected_tp and vector_id != "mt-rpdata-deliver-alnum-oa-openbsc":
                assert document["tp"]["text"] == expected_tp["text"]
    else:
        assert vector_id.startswith("bad-")
        assert document["rp_cause"] in (95, 96, 97)


def test_alphanumeric_sender_is_text() -> None:
    _, document, _ = decode_command(VECTORS["mt-rpdata-deliver-alnum-oa-openbsc"]["hex"])
    assert document["tp"]["originator"] == {"ton": 5, "npi": 0, "text": "OpenBSC"}


def test_db_upgrade_creates_the_schema(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/up.db"
    result = subprocess.run(
        [sys.executable, "-m", "smsc.cli", "db", "upgrade"],
        env={**os.environ, "SMSC__STORAGE__DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    tables = {
        row[0]
        for row in sqlite3.connect(f"{tmp_path}/up.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"messages", "attempts", "alembic_version"} <= tables


def test_aml_parse_prints_the_report() -> None:
    text = (
        'A"ML=1;lt=48.82639;lg=-2.36619;rd=52;top=20191112112928;lc=68;pm=G;'
        "si=208201771948415;ei=353472104343540;mcc=208;mnc=20;ml=126"
    )
    result = _run("aml", "parse", text)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["location"]["latitude"] == 48.82639
    assert report["location"]["longitude"] == -2.36619
    assert report["network"] == {"mcc": "208", "mnc": "20"}
    assert report["valid"] is True
    not_aml = _run("aml", "parse", "hello")
    assert not_aml.returncode == 2
    assert json.loads(not_aml.stdout)["is_aml"] is False


def test_decode_takes_hex_split_over_several_arguments() -> None:
    result = _run("decode", "03", "05", "41", "09", "01", "00", "62116201000069")
    assert result.returncode == 0, result.stderr
    tp = json.loads(result.stdout)["tp"]
    assert tp["type"] == "SMS-SUBMIT-REPORT"
    assert tp["scts"] == "2026-11-26T10:00:00-04:00"  # zone octet 0x69: -16 quarter hours
