"""Errors of the AML (ETSI TS 103 625) pieces."""

from __future__ import annotations

from collections.abc import Iterable

from aml.model import AmlProblem
from smsc.errors import SmscError


class AmlError(SmscError):
    """Root of AML errors."""


class AmlParseError(AmlError):
    """Strict parsing found problems; `problems` lists every one of them."""

    def __init__(self, problems: Iterable[AmlProblem]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(f"invalid AML message ({len(self.problems)} problems): {listed}")


class AmlFormatError(AmlError):
    """A PSAP format name other than json, etsi-https or pidf-lo."""
