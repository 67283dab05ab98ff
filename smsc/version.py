"""What is running: the package version and which SIP data plane implementation."""

from __future__ import annotations

import platform

from smsc import __version__
from smsc.sip.native import IMPLEMENTATION

SIP_IMPLEMENTATION = IMPLEMENTATION
"""The SIP data plane in use: "native" when the C extension was built and SMSC_NATIVE is not
"0" (today it runs the parser's fast case), else "python"."""
_DESCRIBED = {"native": "native (C)", "python": "python"}


def version_line() -> str:
    """`smsc --version`."""
    return (
        f"smsc {__version__} (SIP data plane: {_DESCRIBED[SIP_IMPLEMENTATION]}; "
        f"{platform.python_implementation()} {platform.python_version()})"
    )
