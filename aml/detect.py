"""Is this SMS-SUBMIT an AML message (ETSI TS 103 625)? Its text, whatever the coding.

iOS sends AML as GSM 7-bit text. Android has been seen sending a data SMS (8-bit TP-DCS,
sometimes with application ports) whose user data is the text packed as GSM 7-bit septets.
"""

from __future__ import annotations

from collections.abc import Sequence

from aml.model import AML_HEADER
from smsc.sms.alphabet import decode_gsm7, unpack_septets
from smsc.sms.tp import SmsSubmit
from smsc.sms.user_data import UserData

__all__ = ["aml_text_of", "is_aml_text", "reassemble_text", "text_of"]

_HEADER_BYTES = AML_HEADER.encode("ascii")
_PADDING_SEPTETS = (0x00, 0x0D)  # '@' (zero bits) or CR (TS 23.038 §6.1.2.3.1) filling an octet


def is_aml_text(text: str | None) -> bool:
    """ETSI TS 103 625: an AML message starts with `A"ML=`."""
    return text is not None and text.startswith(AML_HEADER)


def unpack_text(body: bytes) -> str:
    """TS 23.038 §6.1.2.1: octets read as packed GSM 7-bit septets, floor(len*8/7) of them;
    a last septet made only of padding bits is dropped."""
    count = len(body) * 8 // 7
    septets = unpack_septets(body, count)
    if count and septets[-1] in _PADDING_SEPTETS and (7 * (count - 1) + 7) // 8 == len(body):
        septets = septets[:-1]
    return decode_gsm7(septets)


def _packed(body: bytes) -> bool:
    """Whether 8-bit user data holds the AML text as packed septets rather than ASCII."""
    return not body.startswith(_HEADER_BYTES) and unpack_text(body).startswith(AML_HEADER)


def text_of(user_data: UserData, *, packed: bool | None = None) -> str:
    """The text of one segment: decoded GSM 7-bit/UCS2; 8-bit data as packed septets when
    `packed` (None: when that makes it start with the AML header), else as ASCII."""
    if user_data.text is not None:
        return user_data.text
    body = user_data.body
    if packed if packed is not None else _packed(body):
        return unpack_text(body)
    return body.decode("utf-8", errors="replace")


def aml_text_of(submit: SmsSubmit) -> str | None:
    """The AML text carried by this SMS-SUBMIT, or None when it is not AML."""
    text = text_of(submit.user_data)
    return text if is_aml_text(text) else None


def _sequence(part: SmsSubmit) -> int:
    header = part.user_data.header
    concat = header.concatenation if header is not None else None
    return concat.sequence if concat is not None else 0


def reassemble_text(parts: Sequence[SmsSubmit]) -> str:
    """TS 23.040 §9.2.3.24.1: the segments' texts in concatenation order; a repeated
    sequence number keeps its first segment. 8-bit segments are all read the way the
    first one reads as AML (packed septets or ASCII)."""
    ordered = sorted(parts, key=_sequence)
    data = [p.user_data.body for p in ordered if p.user_data.text is None]
    packed = _packed(data[0]) if data else False
    seen: set[int] = set()
    texts: list[str] = []
    for part in ordered:
        sequence = _sequence(part)
        if sequence and sequence in seen:
            continue
        seen.add(sequence)
        texts.append(text_of(part.user_data, packed=packed))
    return "".join(texts)
