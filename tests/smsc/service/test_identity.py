"""tel: and sip:...;user=phone are the same subscriber."""

from __future__ import annotations

import pytest

from smsc.routing.numbering import DiallingPlan, normalise_uri
from smsc.service.identity import msisdn_of
from smsc.settings import NumberingSettings


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


@pytest.mark.parametrize(
    ("identity", "msisdn"),
    [
        ("tel:01711234567;phone-context=+49", "491711234567"),
        ("sip:01711234567@ims.example.net;user=phone", "491711234567"),
        ("sip:+491711234567@ims.example.net", "491711234567"),
        ("tel:4444;phone-context=+49", None),  # a short code is nobody's MSISDN
        ("tel:+0171", None),
        ("tel:+4917112345678901", None),  # 16 digits: no E.164 number
    ],
)
def test_msisdn_of_reads_the_dialling_plan(identity: str, msisdn: str | None) -> None:
    assert msisdn_of(identity, DiallingPlan.of(NumberingSettings(country_code="49"))) == msisdn


def test_the_common_global_form_gives_what_the_plan_gives() -> None:
    plan = DiallingPlan.of(NumberingSettings(country_code="33", national_prefix="0"))
    for identity in ("tel:+33612345678", "sip:+33612345678@h;user=phone", "<tel:+33612345678>"):
        assert msisdn_of(identity, plan) == normalise_uri(identity, plan).digits
