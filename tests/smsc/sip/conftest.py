"""The `scanner` fixture: each scanner test runs over the Python reference and the C twin."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from smsc.sip.native import Scanners, native_scanners, python_scanners


def _failing(reason: str) -> Scanners:
    """Scanners that fail the test calling them (so it counts as failed, not as an error)."""

    def fail(data: bytes, max_headers: int) -> NoReturn:
        pytest.fail(reason)

    return Scanners(fail, fail)


def load_native() -> Scanners | None:
    """The C scanners; when not built, None, or failing ones under SMSC_REQUIRE_NATIVE=1."""
    try:
        return native_scanners()
    except ImportError as exc:
        if os.environ.get("SMSC_REQUIRE_NATIVE") == "1":
            return _failing(f"SMSC_REQUIRE_NATIVE=1 but smsc.sip._scan does not import: {exc}")
        return None


@pytest.fixture(params=["python", "native"])
def scanner(request: pytest.FixtureRequest) -> Scanners:
    """scan_message and scan_response of one implementation (smsc.sip.native)."""
    if request.param == "python":
        return python_scanners
    native = load_native()
    if native is None:
        pytest.skip("smsc.sip._scan is not built (pip install -e . with a C compiler)")
    return native


@pytest.fixture(scope="session")
def native() -> Scanners:
    """The C scanners (for the differential tests, which compare them with the Python ones)."""
    scanners = load_native()
    if scanners is None:
        pytest.skip("smsc.sip._scan is not built (pip install -e . with a C compiler)")
    return scanners
