"""`smsc serve` starts on the embedded defaults and answers health checks over a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_healthz_and_readyz_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    sip = _free_port()
    env = dict(
        os.environ,
        SMSC__HTTP__LISTEN=f"127.0.0.1:{port}",
        SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{sip}", "tcp:127.0.0.1:{sip}"]',
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "smsc serve did not start"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            assert r.status == 200
        assert (tmp_path / "var" / "smsc.db").exists()  # the embedded SQLite default
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_serve_refuses_a_bad_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sip: {unknown: 1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "smsc.cli", "serve", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown" in result.stderr
