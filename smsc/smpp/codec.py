"""SMPP 3.4 §3.2 / §4: encode a PDU value to octets and decode one complete PDU.

Each command is a layout (its §4 table: C-Octet Strings with their §3.1 maximum length
including the NUL, runs of 1-octet integers, times, the sm_length + short_message pair, the
submit_multi lists), then the TLVs (§3.2.4) for every command with a body. ``decode`` raises
only PduError, whose command_status is the answer §5.1.3 gives:

- header shorter than 16 octets, command_length not the PDU's length, a body cut short (a
  field or NUL missing) or octets after the body of a command without one: ESME_RINVCMDLEN;
- unknown command_id: ESME_RINVCMDID;
- a C-Octet String with no NUL within its maximum length: the field's own status
  (ESME_RINVSYSID, ESME_RINVPASWD, ESME_RINVSYSTYP, ESME_RINVSERTYP, ESME_RINVSRCADR,
  ESME_RINVDSTADR, ESME_RINVMSGID, ESME_RINVDLNAME; ESME_RBINDFAIL for address_range);
- schedule_delivery_time / validity_period not "" nor a §7.1.1 time: ESME_RINVSCHED /
  ESME_RINVEXPIRY;
- sm_length above 254 or past the end: ESME_RINVMSGLEN;
- number_of_dests 0 or above 254: ESME_RINVNUMDESTS; dest_flag not 1 or 2: ESME_RINVDESTFLAG;
- a TLV cut or running past the end: ESME_RINVOPTPARSTREAM; a known TLV of the wrong length:
  ESME_RINVPARLEN.

A response with an empty body decodes to its default fields (§4.1.2, §4.1.4, §4.4.2: the body
is left out when command_status is not 0; many ESMEs also send deliver_sm_resp bare). Values
are not judged (a TON of 7, a priority_flag of 9): that is the application's call.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smsc.smpp import pdu as p
from smsc.smpp.constants import HEADER_LENGTH, CommandStatus
from smsc.smpp.errors import PduError, SmppEncodeError
from smsc.smpp.times import TIME_LENGTH, parse_time
from smsc.smpp.tlv import c_octet_string, decode_tlvs, encode_tlvs

_HEADER = struct.Struct(">IIII")
_HEADER_UNPACK = _HEADER.unpack_from
_HEADER_PACK = _HEADER.pack
_U32 = struct.Struct(">I")

MAX_SHORT_MESSAGE = 254
"""§4.4.1: short_message is 0-254 octets."""
MAX_DESTINATIONS = 254
"""§4.5.1: number_of_dests is at most 254."""

S = CommandStatus
_CMDLEN = S.ESME_RINVCMDLEN

# layout step kinds
_INTS, _CSTR, _TIME, _SM, _DESTS, _UNSUCCESS = range(6)

_Step = tuple[int, tuple[str, ...], int, int]
"""(kind, field names, maximum octets with the NUL, status when the field is bad)."""


def _ints(*names: str) -> _Step:
    return _INTS, names, len(names), _CMDLEN


def _cstr(name: str, limit: int, status: int) -> _Step:
    return _CSTR, (name,), limit, status


def _time(name: str, status: int) -> _Step:
    return _TIME, (name,), TIME_LENGTH + 1, status


_SHORT_MESSAGE: _Step = (_SM, ("short_message",), MAX_SHORT_MESSAGE, S.ESME_RINVMSGLEN)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One command: its class, §4 layout, and how its header and TLVs go."""

    cls: Callable[..., p.Pdu]
    pdu_type: type
    command_id: int
    layout: tuple[_Step, ...]
    tlvs: bool
    response: bool
    bare_error: bool


_BIND = (
    _cstr("system_id", 16, S.ESME_RINVSYSID),
    _cstr("password", 9, S.ESME_RINVPASWD),
    _cstr("system_type", 13, S.ESME_RINVSYSTYP),
    _ints("interface_version", "addr_ton", "addr_npi"),
    _cstr("address_range", 41, S.ESME_RBINDFAIL),
)
_BIND_RESP = (_cstr("system_id", 16, S.ESME_RINVSYSID),)
_MESSAGE_ID = (_cstr("message_id", 65, S.ESME_RINVMSGID),)
_SOURCE = (
    _ints("source_addr_ton", "source_addr_npi"),
    _cstr("source_addr", 21, S.ESME_RINVSRCADR),
)
_DESTINATION = (
    _ints("dest_addr_ton", "dest_addr_npi"),
    _cstr("destination_addr", 21, S.ESME_RINVDSTADR),
)
_SM_TAIL = (
    _ints("esm_class", "protocol_id", "priority_flag"),
    _time("schedule_delivery_time", S.ESME_RINVSCHED),
    _time("validity_period", S.ESME_RINVEXPIRY),
    _ints("registered_delivery", "replace_if_present_flag", "data_coding", "sm_default_msg_id"),
    _SHORT_MESSAGE,
)
_SERVICE_TYPE = (_cstr("service_type", 6, S.ESME_RINVSERTYP),)
_SUBMIT = (*_SERVICE_TYPE, *_SOURCE, *_DESTINATION, *_SM_TAIL)
_DATA_SM = (
    *_SERVICE_TYPE,
    _ints("source_addr_ton", "source_addr_npi"),
    _cstr("source_addr", 65, S.ESME_RINVSRCADR),
    _ints("dest_addr_ton", "dest_addr_npi"),
    _cstr("destination_addr", 65, S.ESME_RINVDSTADR),
    _ints("esm_class", "registered_delivery", "data_coding"),
)
_SUBMIT_MULTI = (
    *_SERVICE_TYPE,
    *_SOURCE,
    (_DESTS, ("dest_addresses",), MAX_DESTINATIONS, S.ESME_RINVNUMDESTS),
    *_SM_TAIL,
)
_SUBMIT_MULTI_RESP = (
    *_MESSAGE_ID,
    (_UNSUCCESS, ("unsuccess_smes",), 255, _CMDLEN),
)
_QUERY_SM_RESP = (
    *_MESSAGE_ID,
    _time("final_date", S.ESME_RINVPARLEN),
    _ints("message_state", "error_code"),
)
_REPLACE_SM = (
    *_MESSAGE_ID,
    *_SOURCE,
    _time("schedule_delivery_time", S.ESME_RINVSCHED),
    _time("validity_period", S.ESME_RINVEXPIRY),
    _ints("registered_delivery", "sm_default_msg_id"),
    _SHORT_MESSAGE,
)
_ALERT = (
    _ints("source_addr_ton", "source_addr_npi"),
    _cstr("source_addr", 65, S.ESME_RINVSRCADR),
    _ints("esme_addr_ton", "esme_addr_npi"),
    _cstr("esme_addr", 65, S.ESME_RINVDSTADR),
)


def _spec(
    cls: type[p.Pdu], layout: tuple[_Step, ...] | None = None, *, bare_error: bool = False
) -> _Spec:
    command_id = int(cls.command_id)
    response = bool(command_id & 0x80000000)
    return _Spec(cls, cls, command_id, layout or (), layout is not None, response, bare_error)


_SPECS = [
    _spec(p.GenericNack),
    _spec(p.BindTransmitter, _BIND),
    _spec(p.BindReceiver, _BIND),
    _spec(p.BindTransceiver, _BIND),
    _spec(p.BindTransmitterResp, _BIND_RESP, bare_error=True),
    _spec(p.BindReceiverResp, _BIND_RESP, bare_error=True),
    _spec(p.BindTransceiverResp, _BIND_RESP, bare_error=True),
    _spec(
        p.Outbind,
        (_cstr("system_id", 16, S.ESME_RINVSYSID), _cstr("password", 9, S.ESME_RINVPASWD)),
    ),
    _spec(p.Unbind),
    _spec(p.UnbindResp),
    _spec(p.SubmitSm, _SUBMIT),
    _spec(p.SubmitSmResp, _MESSAGE_ID, bare_error=True),
    _spec(p.SubmitMulti, _SUBMIT_MULTI),
    _spec(p.SubmitMultiResp, _SUBMIT_MULTI_RESP),
    _spec(p.DeliverSm, _SUBMIT),
    _spec(p.DeliverSmResp, _MESSAGE_ID),
    _spec(p.DataSm, _DATA_SM),
    _spec(p.DataSmResp, _MESSAGE_ID),
    _spec(p.QuerySm, (*_MESSAGE_ID, *_SOURCE)),
    _spec(p.QuerySmResp, _QUERY_SM_RESP),
    _spec(p.CancelSm, (*_SERVICE_TYPE, *_MESSAGE_ID, *_SOURCE, *_DESTINATION)),
    _spec(p.CancelSmResp),
    _spec(p.ReplaceSm, _REPLACE_SM),
    _spec(p.ReplaceSmResp),
    _spec(p.EnquireLink),
    _spec(p.EnquireLinkResp),
    _spec(p.AlertNotification, _ALERT),
]
_BY_ID = {spec.command_id: spec for spec in _SPECS}
_BY_CLASS = {spec.pdu_type: spec for spec in _SPECS}
_RESPONSE_OF = {
    spec.command_id & 0x7FFFFFFF: spec
    for spec in _SPECS
    if spec.response and spec.command_id != 0x80000000
}


def has_response(command_id: int) -> bool:
    """§4: ``command_id`` is a request that its receiver answers with a ``*_resp``."""
    return command_id in _RESPONSE_OF


def error_response(command_id: int, command_status: int, sequence_number: int) -> p.Pdu:
    """The answer to request ``command_id`` refused with ``command_status``: its ``*_resp``
    (default fields; bind and submit_sm responses then go bare) or, for a command without a
    response or an unknown one, generic_nack (§4.3)."""
    spec = _RESPONSE_OF.get(command_id)
    if spec is None:
        return p.GenericNack(command_status, sequence_number)
    return spec.cls(command_status=command_status, sequence_number=sequence_number)


# --- decode --------------------------------------------------------------------------------


def decode(octets: bytes) -> p.Pdu:
    """SMPP 3.4 §3.2: one complete PDU (as the framer cuts it); raises only PduError."""
    size = len(octets)
    if size < HEADER_LENGTH:
        raise PduError(f"{size} octets cannot hold the 16-octet header", _CMDLEN)
    length, command_id, status, sequence = _HEADER_UNPACK(octets)
    if length != size:
        raise PduError(
            f"command_length {length} for a PDU of {size} octets",
            _CMDLEN,
            command_id=command_id,
            sequence_number=sequence,
        )
    spec = _BY_ID.get(command_id)
    if spec is None:
        raise PduError(
            f"unknown command_id 0x{command_id:08X}",
            S.ESME_RINVCMDID,
            command_id=command_id,
            sequence_number=sequence,
        )
    try:
        return _decode_body(spec, bytes(octets), status, sequence)
    except PduError as exc:
        exc.command_id, exc.sequence_number = command_id, sequence
        raise
    except Exception as exc:  # a decoder bug must still answer, not kill the session
        raise PduError(
            f"cannot decode {spec.cls.__name__}: {exc!r}",
            S.ESME_RSYSERR,
            command_id=command_id,
            sequence_number=sequence,
        ) from exc


def _decode_body(spec: _Spec, data: bytes, status: int, sequence: int) -> p.Pdu:
    size = len(data)
    if spec.response and size == HEADER_LENGTH:
        return spec.cls(command_status=status, sequence_number=sequence)
    pos = HEADER_LENGTH
    values: list[Any] = []
    for kind, names, limit, field_status in spec.layout:
        if kind == _INTS:
            end = pos + limit
            if end > size:
                raise _short(names[0])
            values.extend(data[pos:end])
            pos = end
        elif kind in (_CSTR, _TIME):
            nul = data.find(b"\0", pos, pos + limit)  # §3.1 C-Octet String (inline: hot path)
            if nul < 0:
                raise _cstr_error(data, pos, limit, field_status, names[0])
            text = data[pos:nul].decode("latin-1")
            pos = nul + 1
            if kind == _TIME and text:
                _check_time(text, field_status, names[0])
            values.append(text)
        elif kind == _SM:
            if pos >= size:
                raise _short("sm_length")
            length = data[pos]
            pos += 1
            if length > limit or pos + length > size:
                raise PduError(
                    f"sm_length {length} with {size - pos} octets left (0-{limit} allowed)",
                    field_status,
                )
            values.append(data[pos : pos + length])
            pos += length
        elif kind == _DESTS:
            destinations, pos = _read_destinations(data, pos)
            values.append(destinations)
        else:
            unsuccess, pos = _read_unsuccess(data, pos)
            values.append(unsuccess)
    if spec.tlvs:
        values.append(decode_tlvs(data, pos))
    elif pos != size:
        raise PduError(f"{size - pos} octets after a body-less {spec.cls.__name__}", _CMDLEN)
    if spec.response:
        values.append(status)
    values.append(sequence)
    return spec.cls(*values)


def _short(field: str) -> PduError:
    return PduError(f"the body ends before {field}", _CMDLEN)


def _read_cstr(data: bytes, pos: int, limit: int, status: int, field: str) -> tuple[str, int]:
    """§3.1 C-Octet String of at most ``limit`` octets with its NUL."""
    nul = data.find(b"\0", pos, pos + limit)
    if nul < 0:
        raise _cstr_error(data, pos, limit, status, field)
    return data[pos:nul].decode("latin-1"), nul + 1


def _cstr_error(data: bytes, pos: int, limit: int, status: int, field: str) -> PduError:
    """No NUL within ``limit`` octets: the body ended first, or the field is too long."""
    if len(data) - pos < limit:
        return PduError(f"the body ends inside {field} (no NUL)", _CMDLEN)
    return PduError(f"{field} has no NUL within {limit} octets", status)


def _check_time(text: str, status: int, field: str) -> None:
    try:
        parse_time(text, status)
    except PduError as exc:
        raise PduError(f"{field}: {exc}", status) from None


def _read_destinations(
    data: bytes, pos: int
) -> tuple[tuple[p.SmeAddress | p.DistributionList, ...], int]:
    """§4.5.1: number_of_dests and each dest_address."""
    if pos >= len(data):
        raise _short("number_of_dests")
    count = data[pos]
    pos += 1
    if not 1 <= count <= MAX_DESTINATIONS:
        raise PduError(f"number_of_dests {count} (1-254 allowed)", S.ESME_RINVNUMDESTS)
    destinations: list[p.SmeAddress | p.DistributionList] = []
    for _ in range(count):
        if pos >= len(data):
            raise _short("dest_flag")
        flag = data[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > len(data):
                raise _short("dest_addr_ton")
            ton, npi = data[pos], data[pos + 1]
            address, pos = _read_cstr(data, pos + 2, 21, S.ESME_RINVDSTADR, "destination_addr")
            destinations.append(p.SmeAddress(ton, npi, address))
        elif flag == 2:
            name, pos = _read_cstr(data, pos, 21, S.ESME_RINVDLNAME, "dl_name")
            destinations.append(p.DistributionList(name))
        else:
            raise PduError(f"dest_flag {flag} (1 or 2 allowed)", S.ESME_RINVDESTFLAG)
    return tuple(destinations), pos


def _read_unsuccess(data: bytes, pos: int) -> tuple[tuple[p.UnsuccessSme, ...], int]:
    """§4.5.2: no_unsuccess and each unsuccess_sme."""
    if pos >= len(data):
        raise _short("no_unsuccess")
    count = data[pos]
    pos += 1
    smes: list[p.UnsuccessSme] = []
    for _ in range(count):
        if pos + 2 > len(data):
            raise _short("dest_addr_ton")
        ton, npi = data[pos], data[pos + 1]
        address, pos = _read_cstr(data, pos + 2, 21, S.ESME_RINVDSTADR, "destination_addr")
        if pos + 4 > len(data):
            raise _short("error_status_code")
        (error,) = _U32.unpack_from(data, pos)
        smes.append(p.UnsuccessSme(ton, npi, address, error))
        pos += 4
    return tuple(smes), pos


# --- encode --------------------------------------------------------------------------------


def encode(pdu: p.Pdu, *, sequence_number: int | None = None) -> bytes:
    """SMPP 3.4 §3.2: the octets of ``pdu`` (with ``sequence_number`` instead of its own when
    given). Bind and submit_sm responses with a command_status other than 0 go without their
    body (§4.1.2, §4.1.4, §4.4.2). Raises SmppEncodeError for what SMPP cannot carry."""
    spec = _BY_CLASS.get(type(pdu))
    if spec is None:
        raise SmppEncodeError(f"{type(pdu).__name__} is not an SMPP PDU")
    sequence = pdu.sequence_number if sequence_number is None else sequence_number
    status: int = getattr(pdu, "command_status", 0) if spec.response else 0
    if not 0 <= sequence <= 0xFFFFFFFF or not 0 <= status <= 0xFFFFFFFF:
        raise SmppEncodeError(f"sequence_number {sequence} / command_status {status} not 32 bits")
    body = b"" if not spec.layout and not spec.tlvs else _encode_body(spec, pdu, status)
    return _HEADER_PACK(HEADER_LENGTH + len(body), spec.command_id, status, sequence) + body


def _encode_body(spec: _Spec, pdu: p.Pdu, status: int) -> bytes:
    if status and spec.bare_error:
        return b""
    parts: list[bytes] = []
    for kind, names, limit, _ in spec.layout:
        if kind == _INTS:
            try:
                parts.append(bytes([getattr(pdu, name) for name in names]))
            except (ValueError, TypeError):
                raise SmppEncodeError(f"{_values(pdu, names)}: not all 0-255") from None
        elif kind in (_CSTR, _TIME):
            text = getattr(pdu, names[0])
            parts.append(c_octet_string(text, limit, names[0]))
            if kind == _TIME and text:
                _check_encoded_time(text, names[0])
        elif kind == _SM:
            message = getattr(pdu, names[0])
            if len(message) > limit:
                raise SmppEncodeError(f"short_message of {len(message)} octets (0-{limit})")
            parts.append(bytes((len(message),)))
            parts.append(bytes(message))
        elif kind == _DESTS:
            parts.append(_encode_destinations(getattr(pdu, names[0])))
        else:
            parts.append(_encode_unsuccess(getattr(pdu, names[0])))
    tlvs = getattr(pdu, "tlvs", ())
    if tlvs:
        parts.append(encode_tlvs(tlvs))
    return b"".join(parts)


def _values(pdu: object, names: tuple[str, ...]) -> dict[str, object]:
    return {name: getattr(pdu, name) for name in names}


def _octets_of(pdu: object, names: tuple[str, ...]) -> bytes:
    try:
        return bytes([getattr(pdu, name) for name in names])
    except (ValueError, TypeError):
        raise SmppEncodeError(f"{_values(pdu, names)}: not all 0-255") from None


def _check_encoded_time(text: str, field: str) -> None:
    try:
        parse_time(text)
    except PduError as exc:
        raise SmppEncodeError(f"{field}: {exc}") from None


def _encode_destinations(destinations: tuple[p.SmeAddress | p.DistributionList, ...]) -> bytes:
    if not 1 <= len(destinations) <= MAX_DESTINATIONS:
        raise SmppEncodeError(f"{len(destinations)} destinations (1-254 allowed)")
    parts = [bytes((len(destinations),))]
    for destination in destinations:
        if isinstance(destination, p.SmeAddress):
            parts.append(b"\x01" + _octets_of(destination, ("dest_addr_ton", "dest_addr_npi")))
            parts.append(c_octet_string(destination.destination_addr, 21, "destination_addr"))
        else:
            parts.append(b"\x02" + c_octet_string(destination.dl_name, 21, "dl_name"))
    return b"".join(parts)


def _encode_unsuccess(smes: tuple[p.UnsuccessSme, ...]) -> bytes:
    if len(smes) > 255:
        raise SmppEncodeError(f"{len(smes)} unsuccess_smes (0-255 allowed)")
    parts = [bytes((len(smes),))]
    for sme in smes:
        parts.append(_octets_of(sme, ("dest_addr_ton", "dest_addr_npi")))
        parts.append(c_octet_string(sme.destination_addr, 21, "destination_addr"))
        if not 0 <= sme.error_status_code <= 0xFFFFFFFF:
            raise SmppEncodeError(f"error_status_code {sme.error_status_code} is not 32 bits")
        parts.append(_U32.pack(sme.error_status_code))
    return b"".join(parts)
