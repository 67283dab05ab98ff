"""The optional C scanner smsc.sip._scan (metadata is in pyproject.toml).

Without a C compiler, or when the build fails, the install goes on without it and the SIP wire
path runs on the pure-Python scanners; SMSC_PURE_PYTHON=1 skips the build.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

_BUILD_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError)

SCAN = Extension(
    "smsc.sip._scan",
    sources=["smsc/sip/_scan.c", "smsc/sip/_scan_core.c"],
    depends=["smsc/sip/_scan_core.h"],
    extra_compile_args=[] if sys.platform == "win32" else ["-O2", "-std=c99", "-Wall", "-Wextra"],
)


class OptionalBuildExt(build_ext):
    """build_ext that warns and carries on when the C scanner cannot be built."""

    def run(self) -> None:
        """Build the extensions, or warn (no compiler found at all)."""
        try:
            super().run()
        except _BUILD_ERRORS as exc:
            _warn(exc)

    def build_extension(self, ext: Extension) -> None:
        """Build one extension, or warn (the compiler failed or is missing)."""
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS as exc:
            _warn(exc)


def _warn(exc: BaseException) -> None:
    """Say that the pure-Python scanners will run, and why."""
    print(
        f"WARNING: smsc.sip._scan (the C SIP scanner) was not built ({exc}); "
        "the pure-Python scanner will be used",
        file=sys.stderr,
    )


setup(
    ext_modules=[] if os.environ.get("SMSC_PURE_PYTHON") == "1" else [SCAN],
    cmdclass={"build_ext": OptionalBuildExt},
)
