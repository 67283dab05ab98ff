"""TS 23.040 §9.2.3.16 / §9.2.3.24 TP-UDL and TP-UD as one unit."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.sms.alphabet import (
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    pack_septets,
    unpack_septets,
)
from smsc.sms.constants import Alphabet, NationalLanguage
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.records import positional_constructor
from smsc.sms.udh import (
    InformationElement,
    UserDataHeader,
    decode_udh,
    encode_udh,
    locking_shift_ie,
    single_shift_ie,
)

__all__ = [
    "MAX_OCTETS",
    "MAX_SEPTETS",
    "UserData",
    "decode_user_data",
    "encode_user_data",
    "gsm7_header_septets",
    "make_user_data",
]

MAX_OCTETS = 140
MAX_SEPTETS = 160
_DEFAULT = NationalLanguage.DEFAULT
_GSM7 = Alphabet.GSM7
_UCS2 = Alphabet.UCS2


@dataclass(frozen=True, slots=True)
class UserData:
    """TS 23.040 §9.2.3.24 TP-UD: header iff TP-UDHI, body septets (GSM7) or octets."""

    header: UserDataHeader | None
    body: bytes
    text: str | None


_new_user_data = positional_constructor(UserData)
_SHIFT_IEIS = frozenset((0x24, 0x25))  # TS 23.040 §9.2.3.24.15-16


def gsm7_header_septets(udhl: int) -> int:
    """TS 23.040 §9.2.3.24: septets taken by UDHL+UDH+fill bits, ceil((UDHL+1)*8/7)."""
    return ((udhl + 1) * 8 + 6) // 7


def _shift_tables(header: UserDataHeader) -> tuple[NationalLanguage | int, NationalLanguage | int]:
    """TS 23.038 §6.2.1.2.4: tables named in the UDH; alphabet falls back to default ones."""
    if not header.elements:
        return _DEFAULT, _DEFAULT
    return header.locking_shift or _DEFAULT, header.single_shift or _DEFAULT


def _split_header(udl_octets: int, ud: bytes) -> tuple[UserDataHeader, int]:
    """TS 23.040 §9.2.3.24: UDHL octet, then IEs; returns header and octets used."""
    if udl_octets < 1:
        raise TpduDecodeError("TP-UDHI set but TP-UD has no UDHL octet")
    used = ud[0] + 1
    if used > udl_octets:
        raise TpduDecodeError(f"UDHL {ud[0]} points past TP-UDL")
    return decode_udh(ud[1:used]), used


def _decode_gsm7(udl: int, ud: bytes, udhi: bool) -> UserData:
    """TS 23.040 §9.2.3.16: TP-UDL in septets including header septets and fill bits."""
    if not 0 <= udl <= MAX_SEPTETS:
        raise TpduDecodeError(f"TP-UDL {udl} outside 0..{MAX_SEPTETS} septets")
    needed = (udl * 7 + 7) >> 3
    if len(ud) != needed:
        raise TpduDecodeError(f"TP-UDL {udl} septets needs {needed} octets, TP-UD has {len(ud)}")
    if not udhi:
        body = unpack_septets(ud, udl, 0)
        return _new_user_data(None, body, decode_gsm7(body))
    header, used = _split_header(needed, ud)
    header_septets = gsm7_header_septets(used - 1)
    if header_septets > udl:
        raise TpduDecodeError(f"UDHL {used - 1} points past TP-UDL {udl} septets")
    fill = header_septets * 7 - used * 8
    body = unpack_septets(ud[used:], udl - header_septets, fill)
    if _SHIFT_IEIS.isdisjoint(ud[1:used]):  # no language shift IE can be there
        return _new_user_data(header, body, decode_gsm7(body))
    locking, single = _shift_tables(header)
    return _new_user_data(header, body, decode_gsm7(body, locking, single))


def _decode_octets(udl: int, ud: bytes, alphabet: Alphabet, udhi: bool) -> UserData:
    """TS 23.040 §9.2.3.16: TP-UDL in octets including UDHL and UDH."""
    if not 0 <= udl <= MAX_OCTETS:
        raise TpduDecodeError(f"TP-UDL {udl} outside 0..{MAX_OCTETS} octets")
    if len(ud) != udl:
        raise TpduDecodeError(f"TP-UDL {udl} octets but TP-UD has {len(ud)}")
    header: UserDataHeader | None = None
    body = ud
    if udhi:
        header, used = _split_header(udl, ud)
        body = ud[used:]
    if alphabet != _UCS2:
        return _new_user_data(header, body, None)
    return _new_user_data(header, body, decode_ucs2(body))


def decode_user_data(udl: int, ud: bytes, alphabet: Alphabet, udhi: bool) -> UserData:
    """TS 23.040 §9.2.3.16 / §9.2.3.24; `ud` is every octet after TP-UDL."""
    if alphabet == _GSM7:
        return _decode_gsm7(udl, ud, udhi)
    return _decode_octets(udl, ud, alphabet, udhi)


def _encode_header(header: UserDataHeader) -> bytes:
    """TS 23.040 §9.2.3.24: UDHL octet followed by the IEs."""
    ies = encode_udh(header)
    if len(ies) > MAX_OCTETS - 1:
        raise EncodeError(f"UDH of {len(ies)} octets does not fit in TP-UD")
    return bytes((len(ies),)) + ies


def _encode_gsm7(user_data: UserData) -> tuple[int, bytes]:
    """TS 23.040 §9.2.3.16: header octets, fill bits, packed septets."""
    body = user_data.body
    if not body.isascii():
        raise EncodeError("GSM7 body holds a value above 0x7F")
    if user_data.header is None:
        if len(body) > MAX_SEPTETS:
            raise EncodeError(f"GSM7 body of {len(body)} septets exceeds {MAX_SEPTETS}")
        return len(body), pack_septets(body, 0)
    head = _encode_header(user_data.header)
    header_septets = gsm7_header_septets(len(head) - 1)
    udl = header_septets + len(body)
    if udl > MAX_SEPTETS:
        raise EncodeError(f"TP-UDL {udl} septets exceeds {MAX_SEPTETS}")
    fill = header_septets * 7 - len(head) * 8
    return udl, head + pack_septets(body, fill)


def _encode_octets(user_data: UserData, alphabet: Alphabet) -> tuple[int, bytes]:
    """TS 23.040 §9.2.3.16: UDHL+UDH then the body octets."""
    body = user_data.body
    if alphabet == _UCS2 and len(body) & 1:
        raise EncodeError(f"UCS2 body has odd length {len(body)}")
    ud = body if user_data.header is None else _encode_header(user_data.header) + body
    if len(ud) > MAX_OCTETS:
        raise EncodeError(f"TP-UD of {len(ud)} octets exceeds {MAX_OCTETS}")
    return len(ud), bytes(ud)


def encode_user_data(user_data: UserData, alphabet: Alphabet) -> tuple[int, bytes]:
    """TS 23.040 §9.2.3.16 / §9.2.3.24: (TP-UDL, TP-UD) from header and body (not text)."""
    if alphabet == _GSM7:
        return _encode_gsm7(user_data)
    return _encode_octets(user_data, alphabet)


def _with_languages(
    header: UserDataHeader | None, locking: NationalLanguage, single: NationalLanguage
) -> UserDataHeader | None:
    """TS 23.040 §9.2.3.24.15-16: add the shift IEs the header does not name yet."""
    extra: list[InformationElement] = []
    if single != _DEFAULT and (header is None or header.single_shift != single):
        extra.append(single_shift_ie(single))
    if locking != _DEFAULT and (header is None or header.locking_shift != locking):
        extra.append(locking_shift_ie(locking))
    if not extra:
        return header
    elements = () if header is None else header.elements
    return UserDataHeader((*elements, *extra))


def make_user_data(
    text: str,
    alphabet: Alphabet,
    header: UserDataHeader | None = None,
    locking: NationalLanguage = _DEFAULT,
    single: NationalLanguage = _DEFAULT,
) -> UserData:
    """TS 23.038 §6.2: text to UserData; non-default shift tables get their UDH IE."""
    if alphabet == _GSM7:
        body = encode_gsm7(text, locking, single)
        return _new_user_data(_with_languages(header, locking, single), body, text)
    if alphabet == _UCS2:
        return _new_user_data(header, encode_ucs2(text), text)
    raise EncodeError(f"{alphabet.name} user data has no text form; build UserData directly")
