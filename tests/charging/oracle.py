"""python-diameter as the test oracle: re-decode our CCRs, build the OCS's CCAs."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from diameter.message import Message, constants
from diameter.message.avp import Avp, AvpGrouped, AvpTime
from diameter.message.avp.grouped import GrantedServiceUnit, MultipleServicesCreditControl
from diameter.message.commands.credit_control import CreditControlAnswer

ACCESS_NETWORK_INFORMATION, TGPP = 1263, 10415


@dataclass(frozen=True)
class Node:
    """One AVP as python-diameter decoded it from the wire (plain_msg=True)."""

    code: int
    vendor: int
    flags: int
    value: Any  # the dictionary-typed value, a list of Nodes, or NTP seconds for Time

    def child(self, code: int) -> Node:
        found = [n for n in self.value if n.code == code]
        assert len(found) == 1, f"{len(found)} AVPs {code} in {self.code}"
        return found[0]


def _node(avp: Avp) -> Node:
    if isinstance(avp, AvpGrouped):
        value: Any = [_node(child) for child in avp.value]
    elif avp.code == ACCESS_NETWORK_INFORMATION and avp.vendor_id == TGPP:
        value = avp.payload  # TS 32.299: OctetString (python-diameter says UTF8String)
    elif isinstance(avp, AvpTime):
        value = struct.unpack(">I", avp.payload)[0]
    else:
        assert type(avp) is not Avp, f"AVP {avp.code}/{avp.vendor_id} unknown to the dictionary"
        value = avp.value
    return Node(avp.code, avp.vendor_id, avp.flags, value)


def plain_tree(data: bytes) -> tuple[Message, list[Node]]:
    """Decode with plain_msg=True and return the header and the full AVP tree."""
    message = Message.from_bytes(data, plain_msg=True)
    return message, [_node(avp) for avp in message.avps]


def build_cca(
    *,
    result_code: int | None = 2001,
    experimental: tuple[int, int] | None = None,
    mscc: list[tuple[int | None, int | None]] | None = None,
    session_id: str = "smsc.example.net;1;1",
    hop_by_hop: int = 0x11223344,
    end_to_end: int = 0x55667788,
    error_bit: bool = False,
) -> bytes:
    """A CCA made by python-diameter's own Message classes, as an OCS on it would send."""
    cca = CreditControlAnswer()
    cca.header.hop_by_hop_identifier = hop_by_hop
    cca.header.end_to_end_identifier = end_to_end
    cca.header.application_id = 4
    cca.header.is_proxyable = True
    cca.header.is_error = error_bit
    cca.session_id = session_id
    cca.origin_host = b"ocs.example.net"
    cca.origin_realm = b"example.net"
    cca.auth_application_id = 4
    cca.cc_request_type = 4
    cca.cc_request_number = 0
    if result_code is not None:
        cca.result_code = result_code
    if mscc is not None:
        cca.multiple_services_credit_control = [
            MultipleServicesCreditControl(
                granted_service_unit=(
                    None if units is None else GrantedServiceUnit(cc_service_specific_units=units)
                ),
                result_code=code,
            )
            for code, units in mscc
        ]
    if experimental is not None:
        vendor, code = experimental
        cca.append_avp(
            Avp.new(
                constants.AVP_EXPERIMENTAL_RESULT,
                value=[
                    Avp.new(constants.AVP_VENDOR_ID, value=vendor),
                    Avp.new(constants.AVP_EXPERIMENTAL_RESULT_CODE, value=code),
                ],
            )
        )
    data: bytes = cca.as_bytes()
    return data
