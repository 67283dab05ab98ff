"""Subscriber identities: tel: and sip:...;user=phone URIs name the same MSISDN."""

from __future__ import annotations

from smsc.routing.numbering import (
    MAX_E164_DIGITS,
    DiallingPlan,
    NumberKind,
    NumberRefused,
    normalise_uri,
)
from smsc.settings import NumberingSettings

DEFAULT_PLAN = DiallingPlan.of(NumberingSettings())


def _global_number(identity: str) -> str | None:
    """The digits of the common form, a global number ('tel:+49...', 'sip:+49...@host'),
    without visual separators; None for anything else (the dialling plan reads that)."""
    value = identity
    if "<" in value:
        start = value.index("<") + 1
        end = value.find(">", start)
        value = value[start : end if end >= 0 else None]
    scheme, _, rest = value.strip().partition(":")
    if not rest.startswith("+"):
        return None
    scheme = scheme.lower()
    if scheme == "tel":
        number = rest.split(";", 1)[0]
    elif scheme in ("sip", "sips") and "@" in rest:
        number = rest.split("@", 1)[0].split(";", 1)[0].split(":", 1)[0]
    else:
        return None
    digits = number[1:]
    if (
        digits.isascii()
        and digits.isdigit()
        and len(digits) <= MAX_E164_DIGITS
        and not digits.startswith("0")
    ):
        return digits
    return None


def msisdn_of(identity: str, plan: DiallingPlan = DEFAULT_PLAN) -> str | None:
    """E.164 digits (no '+') of a tel:/sip: URI or name-addr; None when it holds no number.

    The number is read through the dialling plan (RFC 3966 §5.1, TS 23.040 §9.1.2.5), so
    `sip:+4917...@host;user=phone`, `tel:+4917...` and, with country code 49,
    `tel:01711234567;phone-context=+49` give the same answer; a short code is no MSISDN.
    """
    digits = _global_number(identity)
    if digits is not None:
        return digits
    try:
        number = normalise_uri(identity, plan)
    except NumberRefused:
        return None
    return number.digits if number.kind is NumberKind.E164 else None
