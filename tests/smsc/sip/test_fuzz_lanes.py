"""The differential fuzz of tests/fuzz_sip_lanes.py, a short run (a longer one: see there)."""

from __future__ import annotations

from tests.fuzz_sip_lanes import LOADGEN_MESSAGE, check_request, run
from tests.smsc.sip.samples import MO_MESSAGE


def test_the_samples_take_the_fast_case() -> None:
    assert check_request(MO_MESSAGE, ("10.10.1.5", 5060)) == "fast"
    assert check_request(LOADGEN_MESSAGE, ("127.0.0.1", 5090)) == "fast"


def test_mutations_never_split_the_lanes() -> None:
    outcomes = run(20_000, seed=3)
    # every kind of outcome is reached, so the run exercises both lanes and both refusals
    assert {"fast", "general", "refused", "passed on", "dropped"} <= set(outcomes)
