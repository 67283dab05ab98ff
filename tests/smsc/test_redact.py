"""What of a subscriber the log shows: masked numbers, text as a length, URIs with their host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsc import redact


@pytest.fixture(autouse=True)
def masked() -> Iterator[None]:
    redact.show_subscriber_data(False)
    yield
    redact.show_subscriber_data(False)


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("sip:+491711234567@10.0.0.1:5060", "sip:+*********567@10.0.0.1:5060"),
        ("tel:+491711234567", "tel:+*********567"),
        ("sip:scscf.ims.example.net", "sip:scscf.ims.example.net"),
        ("491711234567", "*********567"),
        (None, "-"),
    ],
)
def test_a_uri_keeps_its_host_and_hides_its_user(value: str | None, logged: str) -> None:
    assert redact.uri(value) == logged


def test_a_uri_is_shown_whole_when_allowed() -> None:
    redact.show_subscriber_data(True)
    assert redact.uri("sip:+491711234567@10.0.0.1") == "sip:+491711234567@10.0.0.1"
