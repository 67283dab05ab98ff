"""The network's dialling plan: what a dialled number is, an E.164 number or a short code.

Handsets send what the user typed, with a type of number (TON) and a numbering plan (NPI) as
TS 23.040 §9.1.2.5 defines them; the HTTP API and SMPP send text, IMS cores send tel: and sip:
URIs. `normalise`, `normalise_text` and `normalise_uri` turn each into one `Number` by the
network's `DiallingPlan` (`routing.numbering`), or raise `NumberRefused` with the RP-Cause and
TP-FCS to answer with. Messages of `NumberRefused` never quote the number (it is subscriber
data, see smsc/redact.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from smsc.errors import SmscError
from smsc.sms.constants import NumberingPlan, RpCause, TpFailureCause, TypeOfNumber

if TYPE_CHECKING:
    from smsc.settings import NumberingSettings

MAX_E164_DIGITS = 15
"""ITU-T E.164 §6: an international number has at most 15 digits."""

_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")
"""RFC 3966 §5.1.1 visual separators (and the spaces people type)."""

_ACCEPTED_PLANS = frozenset(
    {
        NumberingPlan.UNKNOWN,
        NumberingPlan.ISDN_TELEPHONE,
        NumberingPlan.NATIONAL,
        NumberingPlan.PRIVATE,
    }
)


@dataclass(frozen=True, slots=True)
class DiallingPlan:
    """routing.numbering: how the network's dialled numbers become E.164 numbers or short codes.

    The values are taken as `NumberingSettings` validates them (a country code of 1 to 3 digits
    not starting with 0; prefixes of digits or empty; short codes of 0 to 15 digits).
    """

    country_code: str = "49"
    national_prefix: str = "0"
    international_prefix: str = "00"
    short_code_max_digits: int = 6
    unknown_numbers: Literal["international", "national"] = "international"

    @classmethod
    def of(cls, settings: NumberingSettings) -> DiallingPlan:
        """The plan of the `routing.numbering` settings."""
        return cls(
            country_code=settings.country_code,
            national_prefix=settings.national_prefix,
            international_prefix=settings.international_prefix,
            short_code_max_digits=settings.short_code_max_digits,
            unknown_numbers=settings.unknown_numbers,
        )


class NumberKind(StrEnum):
    """What a normalised number is: routable world-wide, or meaningful in this network only."""

    E164 = "e164"
    SHORT_CODE = "short-code"


@dataclass(frozen=True, slots=True)
class Number:
    """A normalised number: `digits` without '+', and whether they are E.164 or a short code."""

    digits: str
    kind: NumberKind

    @classmethod
    def e164(cls, digits: str) -> Number:
        """An international number (ITU-T E.164), digits without '+'."""
        return cls(digits, NumberKind.E164)

    @classmethod
    def short_code(cls, digits: str) -> Number:
        """A number of this network only (TS 23.040 §9.1.2.5 abbreviated / network specific)."""
        return cls(digits, NumberKind.SHORT_CODE)

    def __str__(self) -> str:
        return "+" + self.digits if self.kind is NumberKind.E164 else self.digits


class NumberRefusal(StrEnum):
    """Why a number was refused (the `reason` of `NumberRefused`, a metrics label)."""

    ALPHANUMERIC = "alphanumeric"
    """TON 5: a sender name, not a destination."""
    EMPTY = "empty"
    """No digits at all, or none after a prefix."""
    NOT_DIGITS = "not-digits"
    """A character other than 0-9 ('*', '#', 'a'-'c' of TS 23.040 §9.1.2.3, letters...)."""
    TOO_LONG = "too-long"
    """More than 15 digits of E.164, or longer than a short code where only one can be."""
    LEADING_ZERO = "leading-zero"
    """An international number beginning with 0: no country code does."""
    TYPE_OF_NUMBER = "type-of-number"
    """TON 7 (reserved) or a value outside 0..7."""
    NUMBERING_PLAN = "numbering-plan"
    """An NPI other than 0 (unknown), 1 (E.164), 8 (national) and 9 (private)."""
    FOREIGN_CONTEXT = "foreign-context"
    """A local number whose phone-context is another country: only the home plan is known."""
    NOT_A_NUMBER_URI = "not-a-number-uri"
    """Not a tel: URI, nor a sip:/sips: URI holding a telephone number."""


class NumberRefused(SmscError):  # noqa: N818 (the name its callers use, an outcome not a fault)
    """A destination the dialling plan cannot make a number of (TS 24.011 Table 8.4, cause 1).

    `rp_cause` and `tp_fcs` are the RP-ERROR's RP-Cause and the SMS-SUBMIT-REPORT's TP-FCS.
    """

    rp_cause: RpCause = RpCause.UNASSIGNED_NUMBER
    tp_fcs: TpFailureCause = TpFailureCause.INVALID_SME_ADDRESS

    def __init__(self, reason: NumberRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise(digits: str, ton: int, npi: int, plan: DiallingPlan) -> Number:
    """TS 23.040 §9.1.2.5: the TP/RP address (digits, TON, NPI) as the plan's number."""
    if (  # the common case first: an international E.164 number, as most handsets send
        ton == 1
        and npi == 1
        and 0 < len(digits) <= MAX_E164_DIGITS
        and digits.isdigit()
        and digits.isascii()
        and digits[0] != "0"
    ):
        return Number(digits, NumberKind.E164)
    if ton == TypeOfNumber.ALPHANUMERIC:
        raise NumberRefused(NumberRefusal.ALPHANUMERIC, "an alphanumeric address (TON 5)")
    rule = _TON_RULES.get(ton)
    if rule is None:
        raise NumberRefused(
            NumberRefusal.TYPE_OF_NUMBER, f"type of number {ton} is reserved or out of range"
        )
    if npi not in _ACCEPTED_PLANS:
        raise NumberRefused(NumberRefusal.NUMBERING_PLAN, f"numbering plan {npi} is not supported")
    _check_digits(digits)
    if npi == NumberingPlan.PRIVATE:
        return _short_code(digits, plan)
    return rule(digits, plan)


def normalise_text(text: str, plan: DiallingPlan) -> Number:
    """The API's and SMPP's text: '+49 171 1234567' is international (ITU-T E.123 §2.5), other
    text is digits of type unknown (TON 0); visual separators "-.() " are dropped."""
    value = text.strip().translate(_VISUAL_SEPARATORS)
    if value.startswith("+"):
        return normalise(value[1:], TypeOfNumber.INTERNATIONAL, NumberingPlan.ISDN_TELEPHONE, plan)
    return normalise(value, TypeOfNumber.UNKNOWN, NumberingPlan.UNKNOWN, plan)


def normalise_uri(uri: str, plan: DiallingPlan) -> Number:
    """RFC 3966 §5.1 tel: URIs, RFC 3261 §19.1.6 sip:/sips: URIs with user=phone, and sip: URIs
    whose user part is '+digits'; in a name-addr ('"Name" <sip:...>;tag=...') or bare."""
    value = uri.strip()
    if "<" in value:
        start = value.index("<") + 1
        end = value.find(">", start)
        value = value[start : end if end >= 0 else None]
    scheme, _, rest = value.partition(":")
    scheme = scheme.lower()
    if scheme == "tel":
        return _telephone_subscriber(rest.split("?", 1)[0], plan)
    if scheme in ("sip", "sips"):
        return _sip_user(rest, plan)
    raise _not_a_number_uri()


def _check_digits(digits: str) -> None:
    if not digits:
        raise NumberRefused(NumberRefusal.EMPTY, "no digits")
    if not (digits.isascii() and digits.isdigit()):
        raise NumberRefused(NumberRefusal.NOT_DIGITS, "a character other than 0-9")


def _international(digits: str, plan: DiallingPlan) -> Number:
    """TS 23.040 §9.1.2.5 TON 1: country code and national number (ITU-T E.164 §6)."""
    if not digits:
        raise NumberRefused(NumberRefusal.EMPTY, "no digits after the international prefix")
    if digits.startswith("0"):
        raise NumberRefused(NumberRefusal.LEADING_ZERO, "an international number begins with 0")
    if len(digits) > MAX_E164_DIGITS:
        raise NumberRefused(
            NumberRefusal.TOO_LONG,
            f"{len(digits)} digits, an E.164 number has at most {MAX_E164_DIGITS}",
        )
    return Number.e164(digits)


def _national(digits: str, plan: DiallingPlan) -> Number:
    """TS 23.040 §9.1.2.5 TON 2 (and TON 4): the home country code and the national number."""
    rest = digits.removeprefix(plan.national_prefix)
    if not rest:
        raise NumberRefused(NumberRefusal.EMPTY, "no digits after the national prefix")
    return _international(plan.country_code + rest, plan)


def _short_code(digits: str, plan: DiallingPlan) -> Number:
    """TS 23.040 §9.1.2.5 TON 3 / TON 6 / NPI 9: a number of this network only."""
    if len(digits) > plan.short_code_max_digits:
        raise NumberRefused(
            NumberRefusal.TOO_LONG,
            f"{len(digits)} digits, a short code has at most {plan.short_code_max_digits}",
        )
    return Number.short_code(digits)


def _unknown(digits: str, plan: DiallingPlan, context: str | None = None) -> Number:
    """TS 23.040 §9.1.2.5 TON 0: the plan's prefixes, else a short code, else `unknown_numbers`
    (or the digits of an RFC 3966 §5.1.5 phone-context, when there is one)."""
    prefixed = _by_prefix(digits, plan)
    if prefixed is not None:
        return prefixed
    if len(digits) <= plan.short_code_max_digits:
        return Number.short_code(digits)
    if context is not None:
        return _international(context + digits, plan)
    if plan.unknown_numbers == "national":
        return _international(plan.country_code + digits, plan)
    return _international(digits, plan)


def _by_prefix(digits: str, plan: DiallingPlan) -> Number | None:
    """The longest of the plan's prefixes that begins the digits decides (international on a
    tie); None when neither does."""
    international = plan.international_prefix
    national = plan.national_prefix
    starts_international = bool(international) and digits.startswith(international)
    starts_national = bool(national) and digits.startswith(national)
    if starts_national and (not starts_international or len(national) > len(international)):
        return _national(digits, plan)
    if starts_international:
        return _international(digits[len(international) :], plan)
    return None


_TON_RULES: dict[int, Callable[[str, DiallingPlan], Number]] = {
    TypeOfNumber.UNKNOWN: _unknown,
    TypeOfNumber.INTERNATIONAL: _international,
    TypeOfNumber.NATIONAL: _national,
    TypeOfNumber.NETWORK_SPECIFIC: _short_code,
    TypeOfNumber.SUBSCRIBER: _national,
    TypeOfNumber.ABBREVIATED: _short_code,
}


def _sip_user(rest: str, plan: DiallingPlan) -> Number:
    """RFC 3261 §19.1.6: the user part of a sip: URI is a telephone-subscriber with user=phone;
    without it, only a '+digits' user part (as many cores send) is taken as E.164."""
    userinfo, at, host_and_parameters = rest.partition("@")
    if not at:
        raise _not_a_number_uri()
    user = userinfo.split(":", 1)[0]
    parameters = host_and_parameters.split("?", 1)[0].split(";")[1:]
    if any(p.strip().lower() == "user=phone" for p in parameters):
        return _telephone_subscriber(user, plan)
    if user.startswith("+") and user[1:].isascii() and user[1:].isdigit():
        return _international(user[1:], plan)
    raise _not_a_number_uri()


def _telephone_subscriber(text: str, plan: DiallingPlan) -> Number:
    """RFC 3966 §5.1.4 global number ('+' and digits) or §5.1.5 local number (type unknown)."""
    number, *parameters = text.split(";")
    number = number.translate(_VISUAL_SEPARATORS)
    if number.startswith("+"):
        return normalise(number[1:], TypeOfNumber.INTERNATIONAL, NumberingPlan.ISDN_TELEPHONE, plan)
    context = _phone_context(parameters)
    if context is None or not context.startswith("+"):
        return normalise(number, TypeOfNumber.UNKNOWN, NumberingPlan.UNKNOWN, plan)
    return _in_global_context(number, context[1:].translate(_VISUAL_SEPARATORS), plan)


def _phone_context(parameters: list[str]) -> str | None:
    """RFC 3966 §5.1.5: the phone-context parameter's value (a domain name or '+digits')."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "phone-context":
            return value.strip()
    return None


def _in_global_context(local: str, context: str, plan: DiallingPlan) -> Number:
    """RFC 3966 §5.1.5 local number with a global-number-digits context ('+49', '+4930').

    A context of the home country: the plan's prefixes and short codes apply as to type
    unknown, and a number without a prefix gets the context's digits in front (the plan's
    `unknown_numbers` is not consulted). Another country's context is refused: only the home
    dialling plan is known here, and RFC 3966 warns that prepending does not always give E.164.
    """
    if not (context.isascii() and context.isdigit()):
        raise _not_a_number_uri()
    if not context.startswith(plan.country_code):
        raise NumberRefused(
            NumberRefusal.FOREIGN_CONTEXT, "a local number in another country's phone-context"
        )
    _check_digits(local)
    return _unknown(local, plan, context)


def _not_a_number_uri() -> NumberRefused:
    return NumberRefused(
        NumberRefusal.NOT_A_NUMBER_URI, "not a tel: URI or a sip: URI holding a telephone number"
    )
