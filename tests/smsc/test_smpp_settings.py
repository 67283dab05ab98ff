"""The `smpp` section and SMPP routes: what is accepted, what is refused and why."""

from __future__ import annotations

from typing import Any

import pytest

from smsc.settings import SettingsError, settings_from

ACCOUNT = {
    "system_id": "mybank",
    "password": "s3cret",
    "allowed_sources": ["MyBank", "+4915100000001", "+49151*", "4444", "*"],
}


def _smpp(**smpp: Any) -> dict[str, Any]:
    return {"smpp": {"listen": ["127.0.0.1:2775"], "accounts": [ACCOUNT], **smpp}}


def test_defaults_are_off_and_a_full_account_reads() -> None:
    assert settings_from({}).smpp.listen == ()
    settings = settings_from(_smpp())
    account = settings.smpp.accounts[0]
    assert (account.system_id, account.bind_types, account.window) == (
        "mybank",
        ("tx", "rx", "trx"),
        64,
    )
    assert account.allowed_sources[0] == "MyBank"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_smpp(accounts=[{**ACCOUNT, "system_id": "has space"}]), "system_id"),
        (_smpp(accounts=[{**ACCOUNT, "system_id": "a:b"}]), "system_id"),
        (_smpp(accounts=[{**ACCOUNT, "system_id": "x" * 16}]), "system_id"),
        (_smpp(accounts=[{**ACCOUNT, "password": "123456789"}]), "password"),
        (_smpp(accounts=[{**ACCOUNT, "allowed_sources": ["TooLongABankName"]}]), "sender"),
        (_smpp(accounts=[{**ACCOUNT, "allowed_sources": []}]), "allowed_sources is needed"),
        (_smpp(accounts=[ACCOUNT, ACCOUNT]), "system_id of its own"),
        (_smpp(accounts=[{**ACCOUNT, "bind_types": ["tx", "bogus"]}]), "bind_types"),
        (_smpp(tls_listen=["127.0.0.1:3550"]), "tls_listen needs"),
        (
            {
                **_smpp(),
                "routing": {"applications": [{"name": "bank", "numbers": ["4444"]}]},
            },
            "exactly one of url and smpp",
        ),
        (
            {
                **_smpp(),
                "routing": {
                    "applications": [
                        {"name": "bank", "numbers": ["4444"], "url": "http://a/", "smpp": "x"}
                    ]
                },
            },
            "exactly one of url and smpp",
        ),
        (
            {
                **_smpp(),
                "routing": {"applications": [{"name": "b", "numbers": ["4444"], "smpp": "nope"}]},
            },
            "not in smpp.accounts",
        ),
        (
            {
                "smpp": {"accounts": [{**ACCOUNT, "bind_types": ["tx"]}]},
                "routing": {"applications": [{"name": "b", "numbers": ["4444"], "smpp": "mybank"}]},
            },
            "cannot bind as a receiver",
        ),
    ],
)
def test_bad_smpp_settings_are_refused_naming_the_problem(
    raw: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        settings_from(raw)
    assert expected in str(refused.value)


def test_a_receive_only_account_needs_no_sources_and_routes_mo() -> None:
    settings = settings_from(
        {
            "smpp": {"accounts": [{"system_id": "app", "password": "pw", "bind_types": ["rx"]}]},
            "routing": {"applications": [{"name": "a", "numbers": ["4444"], "smpp": "app"}]},
        }
    )
    route = settings.routing.applications[0]
    assert (route.url, route.smpp) == (None, "app")
