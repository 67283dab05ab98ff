"""A short share of tests/fuzz_sip_server.py in CI: mutated MESSAGEs over UDP and TCP to a
running `smsc serve`; no traceback, every 202 followed by one RP answer, still serving."""

from __future__ import annotations

from tests.fuzz_sip_server import run


def test_a_short_fuzz_of_the_running_server_finds_nothing() -> None:
    tally, problems = run(udp=2000, tcp=200, seed=11, seconds=60)
    assert problems == []
    assert tally.sent["udp"] == 2000
    assert tally.statuses[202] > 0 and tally.statuses[400] > 0  # both kinds were exercised
