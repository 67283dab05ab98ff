"""The parser's fast case, Python (smsc.sip.scan) against C (smsc.sip._scan): µs per call.

Inputs: the load generator's MO MESSAGE (bench/loadgen/), the S-CSCF's MO MESSAGE of the SIP
tests (two Vias, two asserted identities) and a UE's 200 to an MT MESSAGE. Repeats interleave
the two implementations, so drift hits both alike; each figure is the best of its repeats.

Run from the repository root after `pip install -e .`: ``python bench/scan.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's smsc and tests

from smsc.sip.native import Scanners, native_scanners, python_scanners
from tests.fuzz_sip_lanes import LOADGEN_MESSAGE
from tests.smsc.sip.samples import MO_MESSAGE, OK_200

MAX_HEADERS = 128
OK = OK_200.format(via="10.10.1.5:5060;branch=z9hG4bK-74bf9;rport", call_id="a84b4c76@10.0.0.1")
INPUTS = (
    ("MO MESSAGE, load generator", "scan_message", LOADGEN_MESSAGE),
    ("MO MESSAGE, samples.MO_MESSAGE", "scan_message", MO_MESSAGE),
    ("200 OK response", "scan_response", OK.encode()),
)


def _timer(scan: Callable[[bytes, int], object], data: bytes) -> timeit.Timer:
    """A timer of scan(data, MAX_HEADERS)."""
    return timeit.Timer(
        "scan(data, limit)", globals={"scan": scan, "data": data, "limit": MAX_HEADERS}
    )


def per_call(scan: Callable[[bytes, int], object], data: bytes, number: int) -> float:
    """µs per call of scan(data, MAX_HEADERS) over `number` calls."""
    return _timer(scan, data).timeit(number) / number * 1e6


def calls_for(scan: Callable[[bytes, int], object], data: bytes, seconds: float) -> int:
    """How many calls take about `seconds`."""
    number, took = _timer(scan, data).autorange()
    return max(1, int(number * seconds / took))


def measure(native: Scanners, repeats: int, seconds: float) -> list[tuple[str, float, float]]:
    """(input, best Python µs, best C µs) for each input, the repeats interleaved."""
    rows = []
    for name, function, data in INPUTS:
        python, c = getattr(python_scanners, function), getattr(native, function)
        assert python(data, MAX_HEADERS) == c(data, MAX_HEADERS) is not None, name
        number = calls_for(python, data, seconds)
        native_number = calls_for(c, data, seconds)
        best_python = best_c = float("inf")
        for _ in range(repeats):
            best_python = min(best_python, per_call(python, data, number))
            best_c = min(best_c, per_call(c, data, native_number))
        rows.append((name, best_python, best_c))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when the C module was not built."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 short repeats instead of 7")
    args = parser.parse_args(argv)
    try:
        native = native_scanners()
    except ImportError as exc:
        print(f"smsc.sip._scan is not built ({exc}): pip install -e . with a C compiler")
        return 1
    repeats, seconds = (3, 0.05) if args.quick else (7, 0.3)
    print(f"Python {sys.version.split()[0]}, best of {repeats} interleaved repeats")
    print(f"{'input':34} {'python µs':>10} {'C µs':>8} {'ratio':>7}")
    for name, python, c in measure(native, repeats, seconds):
        print(f"{name:34} {python:10.2f} {c:8.3f} {python / c:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
