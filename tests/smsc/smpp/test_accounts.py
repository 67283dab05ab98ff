"""Accounts: credentials, bind types, networks; the per-account token bucket."""

from __future__ import annotations

import pytest

from smsc.settings import SmppAccount
from smsc.smpp.accounts import Accounts, BindRefused, RateLimiter, bind_type_of
from smsc.smpp.constants import CommandStatus
from smsc.smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter

BANK = SmppAccount(
    system_id="mybank",
    password="s3cret",
    bind_types=("tx", "trx"),
    allowed_sources=("MyBank",),
    allowed_networks=("192.0.2.0/24", "2001:db8::/32"),
)
OPEN = SmppAccount(system_id="open", password="pw", bind_types=("rx",))


def _refusal(accounts: Accounts, bind: BindTransmitter | BindReceiver | BindTransceiver,
             host: str) -> int:  # fmt: skip
    with pytest.raises(BindRefused) as refused:
        accounts.authenticate(bind, host)
    return refused.value.command_status


def test_a_bind_with_the_right_credentials_from_an_allowed_network_gets_its_account() -> None:
    accounts = Accounts([BANK, OPEN])
    assert accounts.authenticate(BindTransmitter("mybank", "s3cret"), "192.0.2.7") is BANK
    assert accounts.authenticate(BindTransceiver("mybank", "s3cret"), "2001:db8::1") is BANK
    assert accounts.authenticate(BindTransceiver("mybank", "s3cret"), "::ffff:192.0.2.9") is BANK
    assert accounts.authenticate(BindReceiver("open", "pw"), "203.0.113.1") is OPEN  # [] = any


@pytest.mark.parametrize(
    ("bind", "host", "status"),
    [
        (BindTransmitter("nobody", "s3cret"), "192.0.2.7", CommandStatus.ESME_RINVSYSID),
        (BindTransmitter("mybank", "S3cret"), "192.0.2.7", CommandStatus.ESME_RINVPASWD),
        (BindTransmitter("mybank", ""), "192.0.2.7", CommandStatus.ESME_RINVPASWD),
        (BindReceiver("mybank", "s3cret"), "192.0.2.7", CommandStatus.ESME_RBINDFAIL),
        (BindTransmitter("mybank", "s3cret"), "198.51.100.1", CommandStatus.ESME_RBINDFAIL),
        (BindTransmitter("mybank", "s3cret"), "not-an-address", CommandStatus.ESME_RBINDFAIL),
        (BindTransmitter("open", "pw"), "192.0.2.7", CommandStatus.ESME_RBINDFAIL),
    ],
)
def test_refused_binds_get_their_status(
    bind: BindTransmitter | BindReceiver | BindTransceiver, host: str, status: int
) -> None:
    assert _refusal(Accounts([BANK, OPEN]), bind, host) == status


def test_bind_types_are_named_as_the_settings_name_them() -> None:
    assert bind_type_of(BindTransmitter()) == "tx"
    assert bind_type_of(BindReceiver()) == "rx"
    assert bind_type_of(BindTransceiver()) == "trx"


def test_the_rate_limiter_allows_a_second_of_burst_then_the_rate() -> None:
    limiter = RateLimiter(5.0)
    assert [limiter.allow(100.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow(100.1) is False  # half a token back
    assert limiter.allow(100.2) is True  # one token after 0.2 s
    assert limiter.allow(100.2) is False
    assert sum(limiter.allow(200.0) for _ in range(10)) == 5  # refilled, capped at a second
    allowed = sum(limiter.allow(200.0 + i / 100) for i in range(1, 101))  # 1 s, 100 tries/s
    assert allowed == 5  # the rate, not the tries


def test_a_slow_rate_still_lets_one_through_and_none_means_no_limit() -> None:
    slow = RateLimiter(0.5)
    assert [slow.allow(0.0), slow.allow(1.0), slow.allow(2.0)] == [True, False, True]
    free = RateLimiter(None)
    assert all(free.allow(0.0) for _ in range(1000))
