"""TP-DCS: the data coding scheme octet, TS 23.038 §4."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.sms.constants import Alphabet, DcsGroup, MessageClass, MessageWaitingType


@dataclass(frozen=True, slots=True)
class DataCoding:
    """TS 23.038 §4: what one TP-DCS octet means."""

    dcs: int
    group: DcsGroup
    alphabet: Alphabet
    message_class: MessageClass | None
    compressed: bool
    auto_delete: bool
    mwi_active: bool | None
    mwi_type: MessageWaitingType | None

    @property
    def user_data_in_septets(self) -> bool:
        """TS 23.040 §9.2.3.16: TP-UDL counts septets only for uncompressed GSM 7-bit."""
        return self.alphabet == Alphabet.GSM7 and not self.compressed


def _interpret(dcs: int) -> DataCoding:
    high = dcs >> 4
    if high <= 0x7:  # 00xx xxxx general, 01xx xxxx automatic deletion
        alphabet_bits = (dcs >> 2) & 0x3
        return DataCoding(
            dcs,
            DcsGroup.AUTOMATIC_DELETION if dcs & 0x40 else DcsGroup.GENERAL,
            # TS 23.038 §4: reserved codings are taken as the GSM 7-bit default alphabet.
            Alphabet.GSM7 if alphabet_bits == Alphabet.RESERVED else Alphabet(alphabet_bits),
            MessageClass(dcs & 0x3) if dcs & 0x10 else None,
            bool(dcs & 0x20),
            bool(dcs & 0x40),
            None,
            None,
        )
    if high in (0xC, 0xD, 0xE):
        group = {
            0xC: DcsGroup.MWI_DISCARD,
            0xD: DcsGroup.MWI_STORE_GSM7,
            0xE: DcsGroup.MWI_STORE_UCS2,
        }[high]
        return DataCoding(
            dcs,
            group,
            Alphabet.UCS2 if high == 0xE else Alphabet.GSM7,
            None,
            False,
            False,
            bool(dcs & 0x08),
            MessageWaitingType(dcs & 0x3),
        )
    if high == 0xF:
        return DataCoding(
            dcs,
            DcsGroup.DATA_CODING_MESSAGE_CLASS,
            Alphabet.EIGHT_BIT if dcs & 0x04 else Alphabet.GSM7,
            MessageClass(dcs & 0x3),
            False,
            False,
            None,
            None,
        )
    # 1000 .. 1011: reserved coding groups, taken as the GSM 7-bit default alphabet.
    return DataCoding(dcs, DcsGroup.RESERVED, Alphabet.GSM7, None, False, False, None, None)


_TABLE: tuple[DataCoding, ...] = tuple(_interpret(v) for v in range(256))


def decode_dcs(dcs: int) -> DataCoding:
    """TS 23.038 §4: table look-up of a TP-DCS octet."""
    return _TABLE[dcs]


def dcs_for(alphabet: Alphabet, message_class: MessageClass | None = None) -> int:
    """TS 23.038 §4: the general-group TP-DCS for an alphabet and optional class."""
    value = int(alphabet) << 2
    if message_class is not None:
        value |= 0x10 | int(message_class)
    return value
