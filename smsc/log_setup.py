"""The process's logging: level, text or JSON lines, WARNING floods folded, quiet libraries."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, TextIO

from smsc import redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

QUIET_LIBRARIES = {
    "aiosqlite": logging.WARNING,  # one DEBUG line per SQLite call
    "asyncio": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "diameter": logging.WARNING,  # python-diameter logs every CER, DWR and peer change at INFO
    "alembic.runtime.migration": logging.WARNING,  # "Context impl ...": we log the database
}
"""Libraries held at these levels whatever `logging.level` says."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, exception, and
    the worker process (`sip.workers`) that wrote it."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self._process is not None:
            document["process"] = self._process
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


class WarningFloodFilter(logging.Filter):
    """At most `burst` WARNING-and-above records per (logger, message template) every
    `interval_s`; the rest are counted and reported once, on the first record after the window.

    A flood of rejections (a misbehaving peer sending thousands of bad requests) thus costs a
    few lines, not one per request. Lower levels pass untouched."""

    def __init__(
        self,
        burst: int = 5,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.interval_s = interval_s
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        start, passed, suppressed = self._windows.get(key, (now, 0, 0))
        if now - start >= self.interval_s:
            if suppressed:
                record.msg = f"{record.msg} (and {suppressed} similar message(s) suppressed)"
            start, passed, suppressed = now, 0, 0
        if passed < self.burst:
            self._windows[key] = (start, passed + 1, suppressed)
            if len(self._windows) > 10_000:  # many distinct templates: forget the oldest
                self._windows.pop(next(iter(self._windows)))
            return True
        self._windows[key] = (start, passed, suppressed + 1)
        return False


def configure_logging(
    level: str,
    fmt: Literal["text", "json"] | str = "text",
    *,
    show_subscriber_data: bool = False,
    stream: TextIO | None = None,
    process: str | None = None,
) -> logging.Handler:
    """Set up the root logger once at start; returns the handler it installed. ``process``
    names a worker process ("w1"): its lines say so."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    text = (
        TEXT_FORMAT
        if process is None
        else TEXT_FORMAT.replace(" %(name)s", f" [{process}] %(name)s")
    )
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else logging.Formatter(text))
    handler.addFilter(WarningFloodFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    redact.show_subscriber_data(show_subscriber_data)
    return handler
