"""How the benches print what they measured: one JSON object, or `key: value` lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["print_figures"]


def print_figures(figures: Mapping[str, Any], *, as_json: bool) -> None:
    """`figures` on standard output: one JSON line with `as_json` (for scripts), else a line
    per figure in their order."""
    if as_json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key}: {value}")
