"""The dialling plan: TS 23.040 §9.1.2.5 TON/NPI, RFC 3966 tel: and RFC 3261 sip: numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.errors import SmscError
from smsc.routing.numbering import (
    DiallingPlan,
    Number,
    NumberKind,
    NumberRefusal,
    NumberRefused,
    normalise,
    normalise_text,
    normalise_uri,
)
from smsc.settings import NumberingSettings
from smsc.sms.constants import NumberingPlan, RpCause, TpFailureCause, TypeOfNumber

GERMANY = DiallingPlan()
NATIONAL_UNKNOWN = DiallingPlan(unknown_numbers="national")
NO_NATIONAL_PREFIX = DiallingPlan(national_prefix="")
NO_INTERNATIONAL_PREFIX = DiallingPlan(international_prefix="")
NANP = DiallingPlan(country_code="1", national_prefix="1", international_prefix="011")
CHILE_LIKE = DiallingPlan(country_code="569", short_code_max_digits=4)
NO_SHORT_CODES = DiallingPlan(short_code_max_digits=0)
ODD_PREFIXES = DiallingPlan(national_prefix="00", international_prefix="0")

UNKNOWN = TypeOfNumber.UNKNOWN
INTERNATIONAL = TypeOfNumber.INTERNATIONAL
NATIONAL = TypeOfNumber.NATIONAL
NETWORK = TypeOfNumber.NETWORK_SPECIFIC
SUBSCRIBER = TypeOfNumber.SUBSCRIBER
ALPHANUMERIC = TypeOfNumber.ALPHANUMERIC
ABBREVIATED = TypeOfNumber.ABBREVIATED
RESERVED = TypeOfNumber.RESERVED
ISDN = NumberingPlan.ISDN_TELEPHONE


def e164(digits: str) -> Number:
    return Number(digits, NumberKind.E164)


def short(digits: str) -> Number:
    return Number(digits, NumberKind.SHORT_CODE)


@pytest.mark.parametrize(
    ("digits", "ton", "expected"),
    [
        ("1711234567", NATIONAL, e164("491711234567")),
        ("01711234567", UNKNOWN, e164("491711234567")),
        ("00491711234567", UNKNOWN, e164("491711234567")),
        ("0600000000", UNKNOWN, e164("49600000000")),
        ("4444", UNKNOWN, short("4444")),
        ("491711234567", INTERNATIONAL, e164("491711234567")),
    ],
)
def test_the_issues_examples(digits: str, ton: TypeOfNumber, expected: Number) -> None:
    assert normalise(digits, ton, ISDN, GERMANY) == expected


@pytest.mark.parametrize(
    ("plan", "digits", "ton", "expected"),
    [
        # TON 1: the digits as they are
        (GERMANY, "4915112345", INTERNATIONAL, e164("4915112345")),
        (GERMANY, "1", INTERNATIONAL, e164("1")),
        (GERMANY, "123456789012345", INTERNATIONAL, e164("123456789012345")),
        (GERMANY, "4444", INTERNATIONAL, e164("4444")),  # TON 1 is never a short code
        (NANP, "12125551234", INTERNATIONAL, e164("12125551234")),
        # TON 2: national prefix (if any) off, country code on
        (GERMANY, "01711234567", NATIONAL, e164("491711234567")),
        (GERMANY, "1711234567", NATIONAL, e164("491711234567")),
        (GERMANY, "4444", NATIONAL, e164("494444")),
        (NO_NATIONAL_PREFIX, "01711234567", NATIONAL, e164("4901711234567")),
        (NANP, "2125551234", NATIONAL, e164("12125551234")),
        (NANP, "12125551234", NATIONAL, e164("12125551234")),
        (CHILE_LIKE, "912345678", NATIONAL, e164("569912345678")),
        (GERMANY, "0" + "1" * 13, NATIONAL, e164("49" + "1" * 13)),  # 15 digits
        # TON 4 (subscriber number) is taken as national
        (GERMANY, "1711234567", SUBSCRIBER, e164("491711234567")),
        (GERMANY, "01711234567", SUBSCRIBER, e164("491711234567")),
        # TON 0: international prefix, national prefix, short code, then unknown_numbers
        (GERMANY, "00441234567890", UNKNOWN, e164("441234567890")),
        (GERMANY, "01711234567", UNKNOWN, e164("491711234567")),
        (GERMANY, "491711234567", UNKNOWN, e164("491711234567")),
        (NATIONAL_UNKNOWN, "1711234567", UNKNOWN, e164("491711234567")),
        (NATIONAL_UNKNOWN, "004915112345", UNKNOWN, e164("4915112345")),
        (NATIONAL_UNKNOWN, "0600000000", UNKNOWN, e164("49600000000")),
        (GERMANY, "123456", UNKNOWN, short("123456")),  # short_code_max_digits
        (GERMANY, "1234567", UNKNOWN, e164("1234567")),  # one more
        (NATIONAL_UNKNOWN, "1234567", UNKNOWN, e164("491234567")),
        (GERMANY, "1", UNKNOWN, short("1")),
        (NO_SHORT_CODES, "1", UNKNOWN, e164("1")),
        (NO_NATIONAL_PREFIX, "1711234567", UNKNOWN, e164("1711234567")),
        (NO_NATIONAL_PREFIX, "00491711234567", UNKNOWN, e164("491711234567")),
        (NO_INTERNATIONAL_PREFIX, "01711234567", UNKNOWN, e164("491711234567")),
        (NO_INTERNATIONAL_PREFIX, "0049171123456", UNKNOWN, e164("49049171123456")),  # one "0" off
        (NANP, "0114915112345", UNKNOWN, e164("4915112345")),
        (NANP, "12125551234", UNKNOWN, e164("12125551234")),  # trunk prefix 1
        (CHILE_LIKE, "1234", UNKNOWN, short("1234")),
        (CHILE_LIKE, "12345", UNKNOWN, e164("12345")),
        # the longest prefix wins, whichever of the two it is
        (ODD_PREFIXES, "0049123", UNKNOWN, e164("4949123")),  # national "00" is longer
        (ODD_PREFIXES, "049123", UNKNOWN, e164("49123")),  # international "0"
        (NANP, "0114", UNKNOWN, e164("4")),
        # TON 3 and TON 6: short codes only
        (GERMANY, "4444", NETWORK, short("4444")),
        (GERMANY, "123456", ABBREVIATED, short("123456")),
        (GERMANY, "0800", ABBREVIATED, short("0800")),
    ],
)
def test_type_of_number(
    plan: DiallingPlan, digits: str, ton: TypeOfNumber, expected: Number
) -> None:
    assert normalise(digits, ton, ISDN, plan) == expected


@pytest.mark.parametrize(
    ("digits", "ton", "reason"),
    [
        ("MyBank", ALPHANUMERIC, NumberRefusal.ALPHANUMERIC),
        ("491711234567", ALPHANUMERIC, NumberRefusal.ALPHANUMERIC),
        ("491711234567", RESERVED, NumberRefusal.TYPE_OF_NUMBER),
        ("491711234567", 8, NumberRefusal.TYPE_OF_NUMBER),
        ("491711234567", -1, NumberRefusal.TYPE_OF_NUMBER),
        ("", UNKNOWN, NumberRefusal.EMPTY),
        ("", INTERNATIONAL, NumberRefusal.EMPTY),
        ("", NETWORK, NumberRefusal.EMPTY),
        ("*100#", UNKNOWN, NumberRefusal.NOT_DIGITS),
        ("4917a", INTERNATIONAL, NumberRefusal.NOT_DIGITS),
        ("12b", NATIONAL, NumberRefusal.NOT_DIGITS),
        ("12c", ABBREVIATED, NumberRefusal.NOT_DIGITS),
        ("+491711234567", UNKNOWN, NumberRefusal.NOT_DIGITS),
        ("٤٩١٧١", INTERNATIONAL, NumberRefusal.NOT_DIGITS),  # Arabic-Indic digits
        ("²", UNKNOWN, NumberRefusal.NOT_DIGITS),
        ("1234567890123456", INTERNATIONAL, NumberRefusal.TOO_LONG),  # 16 digits
        ("01711234567", INTERNATIONAL, NumberRefusal.LEADING_ZERO),
        ("0", NATIONAL, NumberRefusal.EMPTY),
        ("0" + "1" * 14, NATIONAL, NumberRefusal.TOO_LONG),  # 49 + 14 = 16
        ("1" * 14, SUBSCRIBER, NumberRefusal.TOO_LONG),
        ("0", UNKNOWN, NumberRefusal.EMPTY),  # the national prefix alone
        ("00", UNKNOWN, NumberRefusal.EMPTY),  # the international prefix alone
        ("000491711234567", UNKNOWN, NumberRefusal.LEADING_ZERO),
        ("001234567890123456", UNKNOWN, NumberRefusal.TOO_LONG),
        ("1234567890123456", UNKNOWN, NumberRefusal.TOO_LONG),
        ("1234567", NETWORK, NumberRefusal.TOO_LONG),  # short_code_max_digits + 1
        ("1234567", ABBREVIATED, NumberRefusal.TOO_LONG),
    ],
)
def test_refused(digits: str, ton: int, reason: NumberRefusal) -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise(digits, ton, ISDN, GERMANY)
    assert refused.value.reason is reason
    assert refused.value.rp_cause is RpCause.UNASSIGNED_NUMBER
    assert int(refused.value.rp_cause) == 1
    assert refused.value.tp_fcs is TpFailureCause.INVALID_SME_ADDRESS
    assert int(refused.value.tp_fcs) == 0xC3
    assert isinstance(refused.value, SmscError)
    assert len(digits) < 4 or digits not in str(refused.value)  # no subscriber data logged


@pytest.mark.parametrize(("digits", "ton"), [("4444", NETWORK), ("1", ABBREVIATED)])
def test_no_short_codes_at_all(digits: str, ton: TypeOfNumber) -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise(digits, ton, ISDN, NO_SHORT_CODES)
    assert refused.value.reason is NumberRefusal.TOO_LONG


@pytest.mark.parametrize(
    ("npi", "ton", "digits", "expected"),
    [
        (NumberingPlan.UNKNOWN, UNKNOWN, "01711234567", e164("491711234567")),
        (NumberingPlan.ISDN_TELEPHONE, INTERNATIONAL, "491711234567", e164("491711234567")),
        (NumberingPlan.NATIONAL, NATIONAL, "1711234567", e164("491711234567")),
        (NumberingPlan.NATIONAL, UNKNOWN, "4444", short("4444")),
        (NumberingPlan.PRIVATE, UNKNOWN, "4444", short("4444")),
        (NumberingPlan.PRIVATE, INTERNATIONAL, "123456", short("123456")),
        (NumberingPlan.PRIVATE, NATIONAL, "0800", short("0800")),
    ],
)
def test_numbering_plans_accepted(npi: int, ton: int, digits: str, expected: Number) -> None:
    assert normalise(digits, ton, npi, GERMANY) == expected


@pytest.mark.parametrize(
    ("npi", "digits", "reason"),
    [
        (NumberingPlan.PRIVATE, "1234567", NumberRefusal.TOO_LONG),
        (NumberingPlan.PRIVATE, "", NumberRefusal.EMPTY),
        (NumberingPlan.DATA_X121, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (NumberingPlan.TELEX, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (NumberingPlan.SC_SPECIFIC_5, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (NumberingPlan.SC_SPECIFIC_6, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (NumberingPlan.ERMES, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (NumberingPlan.RESERVED, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (2, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (7, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (11, "491711234567", NumberRefusal.NUMBERING_PLAN),
        (16, "491711234567", NumberRefusal.NUMBERING_PLAN),
    ],
)
def test_numbering_plans_refused(npi: int, digits: str, reason: NumberRefusal) -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise(digits, INTERNATIONAL, npi, GERMANY)
    assert refused.value.reason is reason


@pytest.mark.parametrize(
    ("plan", "digits", "expected"),
    [
        (DiallingPlan(country_code="1"), "2125551234", e164("12125551234")),
        (DiallingPlan(country_code="358"), "401234567", e164("358401234567")),
        (DiallingPlan(country_code="358"), "0401234567", e164("358401234567")),
        (DiallingPlan(country_code="358"), "0" + "1" * 12, e164("358" + "1" * 12)),
    ],
)
def test_country_codes_of_one_and_three_digits(
    plan: DiallingPlan, digits: str, expected: Number
) -> None:
    assert normalise(digits, NATIONAL, ISDN, plan) == expected


def test_country_code_of_three_digits_and_sixteen() -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise("1" * 13, NATIONAL, ISDN, DiallingPlan(country_code="358"))
    assert refused.value.reason is NumberRefusal.TOO_LONG


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+491711234567", e164("491711234567")),
        ("+49 171 1234567", e164("491711234567")),
        ("+49 (171) 123-45.67", e164("491711234567")),
        ("  +491711234567  ", e164("491711234567")),
        ("01711234567", e164("491711234567")),
        ("0171 1234567", e164("491711234567")),
        ("00491711234567", e164("491711234567")),
        ("491711234567", e164("491711234567")),
        ("4444", short("4444")),
        ("+4444", e164("4444")),
    ],
)
def test_text(text: str, expected: Number) -> None:
    assert normalise_text(text, GERMANY) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", NumberRefusal.EMPTY),
        ("+", NumberRefusal.EMPTY),
        ("++491711234567", NumberRefusal.NOT_DIGITS),
        ("+0171", NumberRefusal.LEADING_ZERO),
        ("MyBank", NumberRefusal.NOT_DIGITS),
        ("+49171/1234567", NumberRefusal.NOT_DIGITS),
        ("+1234567890123456", NumberRefusal.TOO_LONG),
    ],
)
def test_text_refused(text: str, reason: NumberRefusal) -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise_text(text, GERMANY)
    assert refused.value.reason is reason


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("tel:+491711234567", e164("491711234567")),
        ("tel:+49-171-123.45(67)", e164("491711234567")),
        ("TEL:+491711234567;ext=12", e164("491711234567")),
        ("tel:01711234567", e164("491711234567")),
        ("tel:01711234567;phone-context=ims.mnc001.mcc262.3gppnetwork.org", e164("491711234567")),
        ("tel:4444;phone-context=example.com", short("4444")),
        ("tel:01711234567;phone-context=+49", e164("491711234567")),
        ("tel:1711234567;phone-context=+49", e164("491711234567")),
        ("tel:1234567;phone-context=+49-30", e164("49301234567")),
        ("tel:4444;phone-context=+49", short("4444")),
        ("tel:00441234567890;Phone-Context=+49", e164("441234567890")),
        ("sip:+491711234567@ims.example.com;user=phone", e164("491711234567")),
        ("sips:+491711234567@ims.example.com;user=phone", e164("491711234567")),
        ("sip:01711234567@ims.example.com;user=phone", e164("491711234567")),
        ("sip:0171-1234567;phone-context=+49@ims.example.com;user=phone", e164("491711234567")),
        ("sip:4444@ims.example.com;USER=PHONE", short("4444")),
        ("sip:+491711234567@ims.example.com", e164("491711234567")),
        ("sip:+491711234567:secret@ims.example.com", e164("491711234567")),
        ("<sip:+491711234567@ims.example.com;user=phone>", e164("491711234567")),
        ('"Alice" <sip:01711234567@ims.example.com;user=phone>;tag=a1', e164("491711234567")),
        ("<tel:+491711234567>", e164("491711234567")),
        ("sip:01711234567@ims.example.com;transport=udp;user=phone?x=y", e164("491711234567")),
    ],
)
def test_uri(uri: str, expected: Number) -> None:
    assert normalise_uri(uri, GERMANY) == expected


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("mailto:alice@example.com", NumberRefusal.NOT_A_NUMBER_URI),
        ("491711234567", NumberRefusal.NOT_A_NUMBER_URI),
        ("", NumberRefusal.NOT_A_NUMBER_URI),
        ("sip:alice@example.com", NumberRefusal.NOT_A_NUMBER_URI),
        ("sip:01711234567@ims.example.com", NumberRefusal.NOT_A_NUMBER_URI),  # no user=phone
        ("sip:+49-171@ims.example.com", NumberRefusal.NOT_A_NUMBER_URI),
        ("sip:ims.example.com;user=phone", NumberRefusal.NOT_A_NUMBER_URI),
        ("sip:alice@example.com;user=phone", NumberRefusal.NOT_DIGITS),
        ("tel:", NumberRefusal.EMPTY),
        ("tel:+", NumberRefusal.EMPTY),
        ("tel:*100#;phone-context=example.com", NumberRefusal.NOT_DIGITS),
        ("tel:+01711234567", NumberRefusal.LEADING_ZERO),
        ("tel:+1234567890123456", NumberRefusal.TOO_LONG),
        ("tel:0612345678;phone-context=+33", NumberRefusal.FOREIGN_CONTEXT),
        ("tel:0171;phone-context=+4x", NumberRefusal.NOT_A_NUMBER_URI),
        ("tel:;phone-context=+49", NumberRefusal.EMPTY),
        ("tel:1234567890123;phone-context=+4930", NumberRefusal.TOO_LONG),
    ],
)
def test_uri_refused(uri: str, reason: NumberRefusal) -> None:
    with pytest.raises(NumberRefused) as refused:
        normalise_uri(uri, GERMANY)
    assert refused.value.reason is reason


def test_phone_context_of_a_one_digit_country() -> None:
    assert normalise_uri("tel:863-1234;phone-context=+1-914-555", NANP) == e164("19145558631234")


def test_number_text_form() -> None:
    assert str(e164("491711234567")) == "+491711234567"
    assert str(short("4444")) == "4444"
    assert Number.e164("4915112345") == e164("4915112345")
    assert Number.short_code("4444") == short("4444")


def test_plan_of_settings() -> None:
    settings = NumberingSettings(
        country_code="33",
        national_prefix="",
        international_prefix="",
        short_code_max_digits=5,
        unknown_numbers="national",
    )
    assert DiallingPlan.of(settings) == DiallingPlan("33", "", "", 5, "national")
    assert DiallingPlan.of(NumberingSettings()) == DiallingPlan()


plans = st.builds(
    DiallingPlan,
    country_code=st.from_regex(r"[1-9][0-9]{0,2}", fullmatch=True),
    national_prefix=st.from_regex(r"[0-9]{0,2}", fullmatch=True),
    international_prefix=st.from_regex(r"[0-9]{0,3}", fullmatch=True),
    short_code_max_digits=st.integers(0, 15),
    unknown_numbers=st.sampled_from(["international", "national"]),
)
digit_strings = st.text("0123456789*#abc", max_size=22) | st.text(max_size=22)


@given(digit_strings, st.integers(-2, 9), st.integers(-2, 17), plans)
def test_normalise_refuses_or_answers(digits: str, ton: int, npi: int, plan: DiallingPlan) -> None:
    try:
        number = normalise(digits, ton, npi, plan)
    except NumberRefused:
        return
    _check_number(number, plan)


@given(st.text(max_size=40), plans)
def test_text_and_uri_refuse_or_answer(text: str, plan: DiallingPlan) -> None:
    for parse in (normalise_text, normalise_uri):
        try:
            number = parse(text, plan)
        except NumberRefused:
            continue
        _check_number(number, plan)


@given(st.from_regex(r"(tel|sip):\+?[0-9]{0,17}(;phone-context=\+?[0-9]{0,4})?", fullmatch=True))
def test_uri_forms_refuse_or_answer(uri: str) -> None:
    try:
        number = normalise_uri(uri + ("@h;user=phone" if uri.startswith("sip") else ""), GERMANY)
    except NumberRefused:
        return
    _check_number(number, GERMANY)


def _check_number(number: Number, plan: DiallingPlan) -> None:
    assert number.digits.isascii()
    assert number.digits.isdigit()
    if number.kind is NumberKind.E164:
        assert len(number.digits) <= 15
        assert not number.digits.startswith("0")
        assert normalise(number.digits, INTERNATIONAL, ISDN, plan) == number
        assert normalise_text(str(number), plan) == number
        assert normalise_uri(f"tel:{number}", plan) == number
    else:
        assert len(number.digits) <= plan.short_code_max_digits


@given(st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True), plans)
def test_international_is_idempotent(digits: str, plan: DiallingPlan) -> None:
    once = normalise(digits, INTERNATIONAL, ISDN, plan)
    assert once == e164(digits)
    assert normalise(once.digits, INTERNATIONAL, ISDN, plan) == once
