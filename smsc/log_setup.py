"""Logging set-up (placeholder until the observability branch lands)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from smsc import redact


def configure_logging(
    level: str, fmt: str, *, show_subscriber_data: bool = False, stream: TextIO = sys.stderr
) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
    )
    redact.show_subscriber_data(show_subscriber_data)
