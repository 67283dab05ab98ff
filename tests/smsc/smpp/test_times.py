"""SMPP 3.4 §7.1.1 absolute and relative times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings

from smsc.smpp.constants import CommandStatus
from smsc.smpp.errors import PduError, SmppEncodeError
from smsc.smpp.times import format_time, parse_time
from tests.smsc.smpp.strategies import absolute, relative


def zone(quarters: int) -> timezone:
    return timezone(timedelta(minutes=15 * quarters))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("240102153000004+", datetime(2024, 1, 2, 15, 30, tzinfo=zone(4))),
        ("991231235959948-", datetime(2099, 12, 31, 23, 59, 59, 900_000, tzinfo=zone(-48))),
        ("000101000000000+", datetime(2000, 1, 1, tzinfo=UTC)),
        ("240229120000022+", datetime(2024, 2, 29, 12, tzinfo=zone(22))),  # +05:30
        ("000001000000000R", timedelta(days=1)),
        ("000000001500000R", timedelta(minutes=15)),
        ("010203040506000R", timedelta(days=365 + 60 + 3, hours=4, minutes=5, seconds=6)),
        ("000000000000123R", timedelta(0)),  # tnn of a relative time are not read
    ],
)
def test_parse(text: str, value: datetime | timedelta | None) -> None:
    parsed = parse_time(text)
    assert parsed == value
    if isinstance(parsed, datetime):
        assert parsed.utcoffset() == value.utcoffset()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "2401021530000",
        "240102153000004+0",
        "240102153000004",
        "24010215300000+4",
        "240102153000004Z",
        "241302153000004+",
        "240230153000004+",
        "240102243000004+",
        "240102156000004+",
        "240102153060004+",
        "240102153000049+",
        "２40102153000004+",
        "²40102153000004+",
        " 40102153000004+",
    ],
)
@pytest.mark.parametrize("status", [CommandStatus.ESME_RINVSCHED, CommandStatus.ESME_RINVEXPIRY])
def test_an_invalid_time_raises_the_status_asked_for(text: str, status: int) -> None:
    with pytest.raises(PduError) as caught:
        parse_time(text, status)
    assert caught.value.command_status == status


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (datetime(2024, 1, 2, 15, 30, 0, 123_456, tzinfo=zone(4)), "240102153000104+"),
        (datetime(2024, 1, 2, 15, 30, tzinfo=zone(-20)), "240102153000020-"),
        (datetime(2024, 1, 2, 15, 30, tzinfo=UTC), "240102153000000+"),
        (timedelta(days=1), "000001000000000R"),
        (timedelta(days=400, seconds=3723), "010105010203000R"),
    ],
)
def test_format(value: datetime | timedelta | None, text: str) -> None:
    assert format_time(value) == text


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 2),  # naive
        datetime(2024, 1, 2, tzinfo=timezone(timedelta(minutes=10))),
        datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=13))),
        datetime(1999, 12, 31, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        timedelta(seconds=-1),
        timedelta(seconds=1.5),
        timedelta(days=36500),
    ],
)
def test_format_refuses_what_the_format_cannot_say(value: datetime | timedelta) -> None:
    with pytest.raises(SmppEncodeError):
        format_time(value)


@settings(max_examples=300, deadline=None)
@given(absolute)
def test_absolute_round_trip(value: datetime) -> None:
    parsed = parse_time(format_time(value))
    assert parsed == value
    assert isinstance(parsed, datetime) and parsed.utcoffset() == value.utcoffset()


@settings(max_examples=300, deadline=None)
@given(relative)
def test_relative_round_trip(value: timedelta) -> None:
    text = format_time(value)
    assert len(text) == 16 and text.endswith("000R")
    assert parse_time(text) == value
