"""Logging as the operator configures it: level, text or JSON lines, floods folded."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from smsc import redact
from smsc.log_setup import WarningFloodFilter, configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    redact.show_subscriber_data(False)


def test_text_lines_at_the_configured_level() -> None:
    stream = io.StringIO()
    configure_logging("warning", "text", stream=stream)
    logging.getLogger("smsc.test").info("hidden")
    logging.getLogger("smsc.test").warning("shown %d", 1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(" WARNING smsc.test: shown 1")


def test_json_lines_parse_and_carry_the_exception() -> None:
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    log = logging.getLogger("smsc.test")
    log.debug("message %s", "one")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "DEBUG" and first["logger"] == "smsc.test"
    assert first["message"] == "message one"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR"
    assert "ValueError: boom" in second["exception"]


def test_noisy_libraries_stay_quiet_at_debug() -> None:
    stream = io.StringIO()
    configure_logging("debug", "text", stream=stream)
    logging.getLogger("aiosqlite").debug("executing ...")
    logging.getLogger("diameter.node").info("sending DWR")
    assert stream.getvalue() == ""


def test_subscriber_data_is_masked_unless_shown() -> None:
    configure_logging("info", "text", stream=io.StringIO())
    assert redact.subscriber("+491711234567") == "+*********567"
    assert redact.sms_text("secret words") == "<12 characters>"
    configure_logging("info", "text", show_subscriber_data=True, stream=io.StringIO())
    assert redact.subscriber("+491711234567") == "+491711234567"


def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("smsc.front", level, __file__, 1, message, ("x",), None)


def test_a_warning_flood_is_folded_and_then_counted() -> None:
    now = [0.0]
    flood = WarningFloodFilter(burst=3, interval_s=60, clock=lambda: now[0])
    passed = [flood.filter(record("403 to %s")) for _ in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert flood.filter(record("another template %s"))  # counted apart
    assert flood.filter(record("debug %s", logging.DEBUG))  # lower levels pass
    now[0] = 61.0
    after = record("403 to %s")
    assert flood.filter(after)
    assert after.getMessage() == "403 to x (and 7 similar message(s) suppressed)"
