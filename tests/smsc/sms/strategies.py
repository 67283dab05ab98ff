"""Hypothesis strategies for every SMS message type (shared by the codec tests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from smsc.sms.address import Address
from smsc.sms.alphabet import encode_gsm7, pack_septets
from smsc.sms.constants import Alphabet, NumberingPlan, RpMessageType, TypeOfNumber
from smsc.sms.dcs import decode_dcs
from smsc.sms.rp import RpAck, RpData, RpError, RpSmma
from smsc.sms.tp import (
    SmsCommand,
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    Tpdu,
    encode_tpdu,
)
from smsc.sms.udh import InformationElement, UserDataHeader
from smsc.sms.user_data import UserData, decode_user_data, encode_user_data
from smsc.sms.validity import AbsoluteValidity, EnhancedValidity, RelativeValidity

GSM7_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
).replace("\x1b", "")

octet = st.integers(0, 255)
digits = st.text(alphabet="0123456789*#abc", max_size=20)
tons = st.sampled_from([t for t in TypeOfNumber if t != TypeOfNumber.ALPHANUMERIC])
npis = st.integers(0, 15).map(
    lambda v: NumberingPlan(v) if v in NumberingPlan._value2member_map_ else v
)


@st.composite
def alphanumeric_addresses(draw: st.DrawFn) -> Address:
    text = draw(st.text(alphabet=GSM7_DEFAULT + "{}[]€", min_size=1, max_size=11))
    while len(encode_gsm7(text)) > 11:
        text = text[:-1]
    # A trailing '@' cannot be told from padding (TS 23.038 §6.1.2.3.1): never generated.
    text = text.rstrip("@") or "A"
    return Address.alphanumeric(text)


numeric_addresses = st.builds(Address, digits, tons, npis)
tp_addresses = st.one_of(numeric_addresses, alphanumeric_addresses())
rp_addresses = st.builds(Address, digits, tons, npis)

timestamps = st.builds(
    lambda dt, q: dt.replace(tzinfo=timezone(timedelta(minutes=15 * q))),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2089, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.integers(-79, 79),
)

information_elements = st.builds(InformationElement, st.integers(0, 255), st.binary(max_size=8))
headers = st.builds(UserDataHeader, st.lists(information_elements, max_size=4).map(tuple))


@st.composite
def user_data_for(draw: st.DrawFn, dcs: int) -> UserData:
    """Wire-valid user data for `dcs`, built by decoding a generated TP-UD."""
    coding = decode_dcs(dcs)
    header = draw(st.none() | headers)
    header_octets = b""
    if header is not None:
        ies = b"".join(bytes((ie.iei, len(ie.data))) + ie.data for ie in header.elements)
        header_octets = bytes((len(ies),)) + ies
    udhi = header is not None
    if coding.user_data_in_septets:
        header_septets = (len(header_octets) * 8 + 6) // 7
        fill = header_septets * 7 - len(header_octets) * 8
        raw = draw(st.binary(max_size=160 - header_septets))
        septets = bytes(x & 0x7F for x in raw)
        ud = header_octets + pack_septets(septets, fill)
        return decode_user_data(header_septets + len(septets), ud, Alphabet.GSM7, udhi)
    alphabet = Alphabet.EIGHT_BIT if coding.compressed else coding.alphabet
    body = draw(st.binary(max_size=140 - len(header_octets)))
    if alphabet == Alphabet.UCS2:
        body = body[: len(body) // 2 * 2]
    return decode_user_data(len(header_octets) + len(body), header_octets + body, alphabet, udhi)


@st.composite
def delivers(draw: st.DrawFn) -> SmsDeliver:
    dcs = draw(octet)
    return SmsDeliver(
        draw(tp_addresses),
        draw(octet),
        dcs,
        draw(timestamps),
        draw(user_data_for(dcs)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
    )


validities = st.none() | st.one_of(
    st.builds(RelativeValidity, octet),
    st.builds(AbsoluteValidity, timestamps),
    st.builds(
        EnhancedValidity,
        st.tuples(
            st.integers(0, 0x7F).filter(lambda v: v & 7 != 3), st.binary(min_size=6, max_size=6)
        ).map(lambda t: bytes((t[0],)) + t[1]),
    ),
)


@st.composite
def submits(draw: st.DrawFn) -> SmsSubmit:
    dcs = draw(octet)
    return SmsSubmit(
        draw(octet),
        draw(tp_addresses),
        draw(octet),
        dcs,
        draw(user_data_for(dcs)),
        draw(validities),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
    )


@st.composite
def _optional(draw: st.DrawFn) -> tuple[int | None, int | None, int | None, UserData | None]:
    pid = draw(st.none() | octet)
    dcs = draw(st.none() | octet)
    user_data = draw(st.none() | user_data_for(dcs or 0))
    # The decoded TP-PI is the wire octet: reserved bits kept, presence bits as sent.
    present = (pid is not None) | (dcs is not None) << 1 | (user_data is not None) << 2
    return draw(st.integers(0, 0x0F)) << 3 | present, pid, dcs, user_data


@st.composite
def status_reports(draw: st.DrawFn) -> SmsStatusReport:
    pi, pid, dcs, user_data = draw(_optional())
    if draw(st.booleans()) and pid is None and dcs is None and user_data is None:
        pi = None
    return SmsStatusReport(
        draw(octet),
        draw(tp_addresses),
        draw(timestamps),
        draw(timestamps),
        draw(octet),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        pi,
        pid,
        dcs,
        user_data,
    )


@st.composite
def submit_reports(draw: st.DrawFn, with_fcs: bool) -> SmsSubmitReport:
    pi, pid, dcs, user_data = draw(_optional())
    fcs = draw(octet) if with_fcs else None
    return SmsSubmitReport(draw(timestamps), fcs, pi or 0, pid, dcs, user_data)


@st.composite
def deliver_reports(draw: st.DrawFn, with_fcs: bool) -> SmsDeliverReport:
    pi, pid, dcs, user_data = draw(_optional())
    fcs = draw(octet) if with_fcs else None
    return SmsDeliverReport(fcs, pi or 0, pid, dcs, user_data)


commands = st.builds(
    SmsCommand,
    octet,
    octet,
    octet,
    octet,
    tp_addresses,
    st.binary(max_size=157),
    st.booleans(),
    st.booleans(),
)

# (strategy, RP message type that carries it)
TPDU_CARRIERS: list[tuple[st.SearchStrategy[Tpdu], RpMessageType]] = [
    (delivers(), RpMessageType.RP_DATA_N_TO_MS),
    (status_reports(), RpMessageType.RP_DATA_N_TO_MS),
    (submits(), RpMessageType.RP_DATA_MS_TO_N),
    (commands, RpMessageType.RP_DATA_MS_TO_N),
    (submit_reports(False), RpMessageType.RP_ACK_N_TO_MS),
    (submit_reports(True), RpMessageType.RP_ERROR_N_TO_MS),
    (deliver_reports(False), RpMessageType.RP_ACK_MS_TO_N),
    (deliver_reports(True), RpMessageType.RP_ERROR_MS_TO_N),
]

tpdu_octets = st.binary(min_size=1, max_size=232)
rp_messages = st.one_of(
    st.builds(
        RpData,
        st.just(RpMessageType.RP_DATA_MS_TO_N),
        octet,
        st.none(),
        rp_addresses,
        tpdu_octets,
    ),
    st.builds(
        RpData,
        st.just(RpMessageType.RP_DATA_N_TO_MS),
        octet,
        rp_addresses,
        st.none() | rp_addresses,
        tpdu_octets,
    ),
    st.builds(
        RpAck,
        st.sampled_from([RpMessageType.RP_ACK_MS_TO_N, RpMessageType.RP_ACK_N_TO_MS]),
        octet,
        st.none() | tpdu_octets,
    ),
    st.builds(
        RpError,
        st.sampled_from([RpMessageType.RP_ERROR_MS_TO_N, RpMessageType.RP_ERROR_N_TO_MS]),
        octet,
        st.integers(0, 127),
        st.none() | octet,
        st.none() | tpdu_octets,
    ),
    st.builds(RpSmma, octet),
)

__all__ = ["TPDU_CARRIERS", "encode_tpdu", "encode_user_data", "rp_messages"]
