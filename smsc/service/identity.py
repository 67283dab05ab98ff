"""Subscriber identities: tel: and sip:...;user=phone URIs name the same MSISDN."""

from __future__ import annotations

_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")


def msisdn_of(identity: str) -> str | None:
    """E.164 digits (no '+') of a tel:/sip: URI or name-addr; None when it holds no number.

    RFC 3966 §5.1 visual separators are dropped; `sip:+4917...@host;user=phone` and
    `tel:+4917...` give the same answer.
    """
    value = identity.strip()
    if "<" in value:
        start = value.index("<") + 1
        end = value.find(">", start)
        value = value[start : end if end >= 0 else None]
    scheme, _, rest = value.partition(":")
    scheme = scheme.lower()
    if scheme == "tel":
        number = rest.split(";", 1)[0]
    elif scheme in ("sip", "sips"):
        userinfo, at, _ = rest.partition("@")
        if not at:
            return None
        number = userinfo.split(";", 1)[0].split(":", 1)[0]
    else:
        return None
    number = number.translate(_VISUAL_SEPARATORS).removeprefix("+")
    return number if number.isdigit() and 0 < len(number) <= 20 else None
