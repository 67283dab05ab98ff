"""Swapped semi-octet (TBCD) digits, TS 23.040 §9.1.2.3 and TS 24.008 §10.5.4.7."""

from __future__ import annotations

from smsc.errors import LocalProtocolError

# Nibble values 0xA..0xE are the extra digits of TS 23.040 §9.1.2.5; 0xF is the filler.
DIGITS = "0123456789*#abc"
FILLER = 0xF
_NIBBLE_OF: dict[str, int] = {ch: i for i, ch in enumerate(DIGITS)}
_NIBBLE_OF.update({"A": 10, "B": 11, "C": 12, "D": 13, "E": 14})

# Per octet: its two digits in wire order (low nibble first), '' for a filler nibble.
_OCTET_DIGITS: tuple[str, ...] = tuple(
    (DIGITS[o & 0xF] if o & 0xF != FILLER else "") + (DIGITS[o >> 4] if o >> 4 != FILLER else "")
    for o in range(256)
)


# Swapping the nibbles of every octet turns the semi-octet string into plain hex order.
_SWAP_NIBBLES = bytes((o & 0xF) << 4 | o >> 4 for o in range(256))


def decode_bcd(data: bytes, digits: int | None = None) -> str:
    """TS 23.040 §9.1.2.3: `digits` useful semi-octets (all non-filler ones when None)."""
    text = data.translate(_SWAP_NIBBLES).hex()
    if text[-1:] == "f":
        text = text[:-1]
    if not text.isdigit():
        text = "".join([_OCTET_DIGITS[o] for o in data])
    if digits is not None and digits < len(text):
        return text[:digits]
    return text


def encode_bcd(digits: str) -> bytes:
    """TS 23.040 §9.1.2.3: two digits per octet, low nibble first, 0xF filler."""
    try:
        nibbles = [_NIBBLE_OF[ch] for ch in digits]
    except KeyError as exc:
        raise LocalProtocolError(f"not a semi-octet digit: {exc.args[0]!r}") from None
    if len(nibbles) % 2:
        nibbles.append(FILLER)
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def is_bcd_digits(digits: str) -> bool:
    """True when every character is a digit TS 23.040 §9.1.2.5 can carry."""
    return all(ch in _NIBBLE_OF for ch in digits)
