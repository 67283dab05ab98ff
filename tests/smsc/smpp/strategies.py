"""Hypothesis strategies for every SMPP 3.4 PDU, over all their fields and TLVs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from smsc.smpp import pdu as p
from smsc.smpp.constants import MAX_SEQUENCE_NUMBER
from smsc.smpp.times import format_time
from smsc.smpp.tlv import TLV_FORMATS, Tlv, TlvKind

octet = st.integers(0, 255)
sequence = st.integers(1, MAX_SEQUENCE_NUMBER)
status = st.integers(0, 0xFFFFFFFF)
error_status = st.integers(1, 0xFFFFFFFF)


def cstring(limit: int) -> st.SearchStrategy[str]:
    """A C-Octet String that fits ``limit`` octets with its NUL (any Latin-1 but NUL)."""
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=limit - 1)


absolute = st.builds(
    lambda moment, quarters: moment.replace(tzinfo=timezone(timedelta(minutes=15 * quarters))),
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
        lambda d: d.replace(microsecond=d.microsecond // 100_000 * 100_000)
    ),
    st.integers(-48, 48),
)
relative = st.integers(0, 100 * 365 * 86400 - 1).map(lambda s: timedelta(seconds=s))
smpp_time = st.one_of(st.just(""), absolute.map(format_time), relative.map(format_time))


@st.composite
def known_tlv(draw: st.DrawFn) -> Tlv:
    tag = draw(st.sampled_from(sorted(TLV_FORMATS)))
    fmt = TLV_FORMATS[tag]
    if fmt.kind is TlvKind.C_OCTET_STRING:
        text = draw(st.binary(max_size=fmt.max_length - 1).map(lambda b: b.replace(b"\0", b"x")))
        return tag, text + b"\0"
    size = draw(st.integers(fmt.min_length, min(fmt.max_length, 300)))
    return tag, draw(st.binary(min_size=size, max_size=size))


unknown_tlv = st.tuples(
    st.integers(0, 0xFFFF).filter(lambda t: t not in TLV_FORMATS), st.binary(max_size=40)
)
tlvs = st.lists(st.one_of(known_tlv(), unknown_tlv), max_size=4).map(tuple)
short_message = st.binary(max_size=254)

_BIND = {
    "system_id": cstring(16),
    "password": cstring(9),
    "system_type": cstring(13),
    "interface_version": octet,
    "addr_ton": octet,
    "addr_npi": octet,
    "address_range": cstring(41),
    "tlvs": tlvs,
    "sequence_number": sequence,
}
_SM = {
    "service_type": cstring(6),
    "source_addr_ton": octet,
    "source_addr_npi": octet,
    "source_addr": cstring(21),
    "dest_addr_ton": octet,
    "dest_addr_npi": octet,
    "destination_addr": cstring(21),
    "esm_class": octet,
    "protocol_id": octet,
    "priority_flag": octet,
    "schedule_delivery_time": smpp_time,
    "validity_period": smpp_time,
    "registered_delivery": octet,
    "replace_if_present_flag": octet,
    "data_coding": octet,
    "sm_default_msg_id": octet,
    "short_message": short_message,
    "tlvs": tlvs,
    "sequence_number": sequence,
}
_MULTI = {k: v for k, v in _SM.items() if not k.startswith("dest")}
_MULTI["dest_addresses"] = st.lists(
    st.one_of(
        st.builds(p.SmeAddress, octet, octet, cstring(21)),
        st.builds(p.DistributionList, cstring(21)),
    ),
    min_size=1,
    max_size=5,
).map(tuple)


def _resp(**fields: st.SearchStrategy[object]) -> dict[str, st.SearchStrategy[object]]:
    return {**fields, "command_status": status, "sequence_number": sequence}


def _bare_on_error(cls: type, **fields: st.SearchStrategy[object]) -> st.SearchStrategy[p.Pdu]:
    """Bind and submit_sm responses: a body with status 0, none with an error (§4.4.2)."""
    ok = st.builds(cls, **fields, command_status=st.just(0), sequence_number=sequence)
    bare = st.builds(cls, command_status=error_status, sequence_number=sequence)
    return st.one_of(ok, bare)


_BIND_RESP = {"system_id": cstring(16), "tlvs": tlvs}
_MESSAGE_ID = {"message_id": cstring(65), "tlvs": tlvs}

STRATEGIES: dict[type, st.SearchStrategy[p.Pdu]] = {
    p.BindTransmitter: st.builds(p.BindTransmitter, **_BIND),
    p.BindReceiver: st.builds(p.BindReceiver, **_BIND),
    p.BindTransceiver: st.builds(p.BindTransceiver, **_BIND),
    p.BindTransmitterResp: _bare_on_error(p.BindTransmitterResp, **_BIND_RESP),
    p.BindReceiverResp: _bare_on_error(p.BindReceiverResp, **_BIND_RESP),
    p.BindTransceiverResp: _bare_on_error(p.BindTransceiverResp, **_BIND_RESP),
    p.Outbind: st.builds(
        p.Outbind, system_id=cstring(16), password=cstring(9), tlvs=tlvs, sequence_number=sequence
    ),
    p.Unbind: st.builds(p.Unbind, sequence_number=sequence),
    p.UnbindResp: st.builds(p.UnbindResp, **_resp()),
    p.GenericNack: st.builds(p.GenericNack, **_resp()),
    p.SubmitSm: st.builds(p.SubmitSm, **_SM),
    p.SubmitSmResp: _bare_on_error(p.SubmitSmResp, **_MESSAGE_ID),
    p.SubmitMulti: st.builds(p.SubmitMulti, **_MULTI),
    p.SubmitMultiResp: st.builds(
        p.SubmitMultiResp,
        **_resp(
            message_id=cstring(65),
            unsuccess_smes=st.lists(
                st.builds(p.UnsuccessSme, octet, octet, cstring(21), status), max_size=4
            ).map(tuple),
            tlvs=tlvs,
        ),
    ),
    p.DeliverSm: st.builds(p.DeliverSm, **_SM),
    p.DeliverSmResp: st.builds(p.DeliverSmResp, **_resp(**_MESSAGE_ID)),
    p.DataSm: st.builds(
        p.DataSm,
        service_type=cstring(6),
        source_addr_ton=octet,
        source_addr_npi=octet,
        source_addr=cstring(65),
        dest_addr_ton=octet,
        dest_addr_npi=octet,
        destination_addr=cstring(65),
        esm_class=octet,
        registered_delivery=octet,
        data_coding=octet,
        tlvs=tlvs,
        sequence_number=sequence,
    ),
    p.DataSmResp: st.builds(p.DataSmResp, **_resp(**_MESSAGE_ID)),
    p.QuerySm: st.builds(
        p.QuerySm,
        message_id=cstring(65),
        source_addr_ton=octet,
        source_addr_npi=octet,
        source_addr=cstring(21),
        tlvs=tlvs,
        sequence_number=sequence,
    ),
    p.QuerySmResp: st.builds(
        p.QuerySmResp,
        **_resp(
            message_id=cstring(65),
            final_date=st.one_of(st.just(""), absolute.map(format_time)),
            message_state=octet,
            error_code=octet,
            tlvs=tlvs,
        ),
    ),
    p.CancelSm: st.builds(
        p.CancelSm,
        service_type=cstring(6),
        message_id=cstring(65),
        source_addr_ton=octet,
        source_addr_npi=octet,
        source_addr=cstring(21),
        dest_addr_ton=octet,
        dest_addr_npi=octet,
        destination_addr=cstring(21),
        tlvs=tlvs,
        sequence_number=sequence,
    ),
    p.CancelSmResp: st.builds(p.CancelSmResp, **_resp()),
    p.ReplaceSm: st.builds(
        p.ReplaceSm,
        message_id=cstring(65),
        source_addr_ton=octet,
        source_addr_npi=octet,
        source_addr=cstring(21),
        schedule_delivery_time=smpp_time,
        validity_period=smpp_time,
        registered_delivery=octet,
        sm_default_msg_id=octet,
        short_message=short_message,
        tlvs=tlvs,
        sequence_number=sequence,
    ),
    p.ReplaceSmResp: st.builds(p.ReplaceSmResp, **_resp()),
    p.EnquireLink: st.builds(p.EnquireLink, sequence_number=sequence),
    p.EnquireLinkResp: st.builds(p.EnquireLinkResp, **_resp()),
    p.AlertNotification: st.builds(
        p.AlertNotification,
        source_addr_ton=octet,
        source_addr_npi=octet,
        source_addr=cstring(65),
        esme_addr_ton=octet,
        esme_addr_npi=octet,
        esme_addr=cstring(65),
        tlvs=tlvs,
        sequence_number=sequence,
    ),
}

any_pdu: st.SearchStrategy[p.Pdu] = st.one_of(*STRATEGIES.values())
