"""What is running: the package version and which SIP data plane implementation."""

from __future__ import annotations

import platform

from smsc import __version__

SIP_IMPLEMENTATION = "python"
"""The SIP data plane in use; there is one implementation today, the pure-Python one."""


def version_line() -> str:
    """`smsc --version`."""
    return (
        f"smsc {__version__} (SIP data plane: {SIP_IMPLEMENTATION}; "
        f"{platform.python_implementation()} {platform.python_version()})"
    )
