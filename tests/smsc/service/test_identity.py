"""tel: and sip:...;user=phone are the same subscriber."""

from __future__ import annotations

import pytest

from smsc.service.identity import msisdn_of


@pytest.mark.parametrize(
    ("identity", "msisdn"),
    [
        ("tel:+491710000001", "491710000001"),
        ("sip:+491710000001@ims.example.net;user=phone", "491710000001"),
        ("<sip:+491710000001@ims.example.net;user=phone>", "491710000001"),
        ('"Alice" <tel:+49-171-000-0001>;tag=1', "491710000001"),
        ("tel:+491710000001;phone-context=ims.example.net", "491710000001"),
        ("SIP:+491710000001@host", "491710000001"),
        ("sip:alice@ims.example.net", None),
        ("sip:ims.example.net", None),
        ("mailto:x@y", None),
        ("tel:", None),
    ],
)
def test_msisdn_of(identity: str, msisdn: str | None) -> None:
    assert msisdn_of(identity) == msisdn
