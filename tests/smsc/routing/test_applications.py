"""routing.applications: exact numbers beat prefixes, the longest prefix wins, kinds never mix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.routing.applications import ApplicationTable
from smsc.routing.numbering import Number, NumberKind
from smsc.settings import ApplicationRoute


def route(name: str, *numbers: str) -> ApplicationRoute:
    return ApplicationRoute(name=name, numbers=numbers, url=f"https://{name}.example.com/mo")


VOTES = route("votes", "4444", "44*")
TAXI = route("taxi", "4445")
MOBILE = route("mobile", "+49151*")
BANK = route("bank", "+4915112345")
LONG = route("long", "+491511234*")
UK = route("uk", "+44*")
EXACT_AND_PREFIX = route("both", "+4930123", "+4930123*")

TABLE = ApplicationTable([VOTES, TAXI, MOBILE, BANK, LONG, UK, EXACT_AND_PREFIX])


def e164(digits: str) -> Number:
    return Number(digits, NumberKind.E164)


def short(digits: str) -> Number:
    return Number(digits, NumberKind.SHORT_CODE)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (short("4444"), VOTES),  # exact
        (short("4445"), TAXI),  # exact beats the prefix 44*
        (short("4446"), VOTES),  # prefix 44*
        (short("44"), VOTES),  # a prefix matches the number equal to it
        (short("4"), None),
        (short("5555"), None),
        (short("4915112345"), None),  # a short code never matches an E.164 entry
        (e164("4444"), UK),  # an E.164 number never matches a short code entry: +44*
        (e164("4915112345"), BANK),  # exact beats the prefixes +49151* and +491511234*
        (e164("49151123456"), LONG),  # longest prefix
        (e164("4915112340"), LONG),
        (e164("4915199999"), MOBILE),
        (e164("49151"), MOBILE),
        (e164("4915"), None),
        (e164("491711234567"), None),
        (e164("441234567890"), UK),
        (e164("4930123"), EXACT_AND_PREFIX),
        (e164("49301234"), EXACT_AND_PREFIX),
        (e164(""), None),
    ],
)
def test_match(number: Number, expected: ApplicationRoute | None) -> None:
    assert TABLE.match(number) is expected


def test_empty_table_matches_nothing() -> None:
    table = ApplicationTable(())
    assert table.match(short("4444")) is None
    assert table.match(e164("491711234567")) is None


def test_a_number_listed_twice_belongs_to_the_first_route() -> None:
    first, second = route("first", "4444", "+49*"), route("second", "4444", "+49*")
    table = ApplicationTable([first, second])
    assert table.match(short("4444")) is first
    assert table.match(e164("491711234567")) is first


def test_order_of_routes_does_not_decide_between_prefixes() -> None:
    for routes in ([MOBILE, LONG], [LONG, MOBILE]):
        assert ApplicationTable(routes).match(e164("491511234999")) is LONG


def _slow_match(
    routes: list[ApplicationRoute], number: Number
) -> tuple[ApplicationRoute | None, int]:
    """The specification as a scan: exact first, then the longest prefix."""
    best: tuple[ApplicationRoute | None, int] = (None, -1)
    for candidate in routes:
        for entry in candidate.numbers:
            body = entry.removesuffix("*")
            kind = NumberKind.E164 if body.startswith("+") else NumberKind.SHORT_CODE
            digits = body.removeprefix("+")
            if kind is not number.kind:
                continue
            if entry.endswith("*"):
                if number.digits.startswith(digits) and len(digits) > best[1]:
                    best = (candidate, len(digits))
            elif number.digits == digits:
                return candidate, 99
    return best


entries = st.builds(
    lambda plus, digits, star: plus + digits + star,
    st.sampled_from(["", "+"]),
    st.text("12", min_size=1, max_size=4),
    st.sampled_from(["", "*"]),
)


@given(
    st.lists(entries, min_size=1, max_size=12, unique=True),
    st.builds(Number, st.text("12", max_size=6), st.sampled_from(list(NumberKind))),
)
def test_match_agrees_with_a_scan(numbers: list[str], number: Number) -> None:
    routes = [route(f"app{i}", entry) for i, entry in enumerate(numbers)]
    assert ApplicationTable(routes).match(number) is _slow_match(routes, number)[0]
