"""Which implementation of the parser's fast case (smsc.sip.scan) the SIP wire path runs.

`scan_message` and `scan_response` are those of the C module smsc.sip._scan (built at install
from _scan.c and _scan_core.c) unless the environment variable SMSC_NATIVE is "0" or the module
was not built; then they are the Python reference of smsc.sip.scan. Both read the same inputs
the same way (tests/smsc/sip/test_scan_differential.py). The choice is made once, at import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal, NamedTuple

from smsc.sip import scan
from smsc.sip.scan import ScannedMessage, ScannedResponse

Implementation = Literal["native", "python"]


class Scanners(NamedTuple):
    """One implementation of the two scanners (RFC 3261 §7: a request or a response)."""

    scan_message: Callable[[bytes, int], ScannedMessage | None]
    scan_response: Callable[[bytes, int], ScannedResponse | None]


python_scanners = Scanners(scan.scan_message, scan.scan_response)
"""The readable reference, and the fallback."""


def native_scanners() -> Scanners:
    """The C scanners; ImportError when smsc.sip._scan was not built or does not load."""
    from smsc.sip import _scan  # noqa: PLC0415 (optional, and not loaded under SMSC_NATIVE=0)

    return Scanners(_scan.scan_message, _scan.scan_response)


def _choose() -> tuple[Implementation, Scanners]:
    """The C scanners when allowed and built, else the Python ones."""
    if os.environ.get("SMSC_NATIVE") == "0":
        return "python", python_scanners
    try:
        return "native", native_scanners()
    except ImportError:
        return "python", python_scanners


IMPLEMENTATION: Implementation
_chosen: Scanners
IMPLEMENTATION, _chosen = _choose()
scan_message = _chosen.scan_message
scan_response = _chosen.scan_response
