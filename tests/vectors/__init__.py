"""Test vectors: real PDUs with an independent decoding (data files, loaded here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load_vectors(name: str = "sms-over-ip.json") -> list[dict[str, Any]]:
    """The `vectors` list of a vector file in this folder."""
    vectors: list[dict[str, Any]] = json.loads((HERE / name).read_text(encoding="utf-8"))["vectors"]
    return vectors
