"""SMPP 3.4 §4 PDUs as values: one frozen dataclass per command, fields named as in the spec.

Fields keep their wire values (ints, C-Octet Strings as str read as Latin-1, octet strings as
bytes); the times stay text (``smsc.smpp.times`` reads them). Every PDU has its
``sequence_number``; responses and generic_nack also their ``command_status``. The encode and
decode are in ``smsc.smpp.codec``; the field order of each class is its §4 layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from smsc.smpp.constants import CommandId, InterfaceVersion
from smsc.smpp.tlv import Tlvs

_V34 = int(InterfaceVersion.SMPP_3_4)


@dataclass(frozen=True, slots=True)
class BindTransmitter:
    """SMPP 3.4 §4.1.1 bind_transmitter."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = _V34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class BindReceiver:
    """SMPP 3.4 §4.1.3 bind_receiver."""

    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = _V34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class BindTransceiver:
    """SMPP 3.4 §4.1.5 bind_transceiver."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = _V34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class BindTransmitterResp:
    """SMPP 3.4 §4.1.2 bind_transmitter_resp (no body when command_status is not 0)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP
    system_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class BindReceiverResp:
    """SMPP 3.4 §4.1.4 bind_receiver_resp (no body when command_status is not 0)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP
    system_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class BindTransceiverResp:
    """SMPP 3.4 §4.1.6 bind_transceiver_resp (no body when command_status is not 0, as the
    other two bind responses)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP
    system_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class Outbind:
    """SMPP 3.4 §4.1.7 outbind."""

    command_id: ClassVar[CommandId] = CommandId.OUTBIND
    system_id: str = ""
    password: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class Unbind:
    """SMPP 3.4 §4.2.1 unbind."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class UnbindResp:
    """SMPP 3.4 §4.2.2 unbind_resp."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class GenericNack:
    """SMPP 3.4 §4.3.1 generic_nack."""

    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class SubmitSm:
    """SMPP 3.4 §4.4.1 submit_sm (``short_message`` 0-254 octets, its sm_length implied)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class SubmitSmResp:
    """SMPP 3.4 §4.4.2 submit_sm_resp (no body when command_status is not 0)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class SmeAddress:
    """SMPP 3.4 §4.5.1.1 an SME address of submit_multi (dest_flag 1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(frozen=True, slots=True)
class DistributionList:
    """SMPP 3.4 §4.5.1.2 a distribution list of submit_multi (dest_flag 2)."""

    dl_name: str = ""


@dataclass(frozen=True, slots=True)
class SubmitMulti:
    """SMPP 3.4 §4.5.1 submit_multi (1-254 destinations)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class UnsuccessSme:
    """SMPP 3.4 §4.5.2.1 a destination submit_multi could not take, with its error."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


@dataclass(frozen=True, slots=True)
class SubmitMultiResp:
    """SMPP 3.4 §4.5.2 submit_multi_resp."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class DeliverSm:
    """SMPP 3.4 §4.6.1 deliver_sm (the layout of submit_sm)."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class DeliverSmResp:
    """SMPP 3.4 §4.6.2 deliver_sm_resp (message_id unused: "")."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class DataSm:
    """SMPP 3.4 §4.7.1 data_sm (the message is in the message_payload TLV)."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class DataSmResp:
    """SMPP 3.4 §4.7.2 data_sm_resp."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM_RESP
    message_id: str = ""
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class QuerySm:
    """SMPP 3.4 §4.8.1 query_sm."""

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class QuerySmResp:
    """SMPP 3.4 §4.8.2 query_sm_resp."""

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0
    tlvs: Tlvs = ()
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class CancelSm:
    """SMPP 3.4 §4.9.1 cancel_sm."""

    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class CancelSmResp:
    """SMPP 3.4 §4.9.2 cancel_sm_resp."""

    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM_RESP
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class ReplaceSm:
    """SMPP 3.4 §4.10.1 replace_sm."""

    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class ReplaceSmResp:
    """SMPP 3.4 §4.10.2 replace_sm_resp."""

    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM_RESP
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class EnquireLink:
    """SMPP 3.4 §4.11.1 enquire_link."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class EnquireLinkResp:
    """SMPP 3.4 §4.11.2 enquire_link_resp."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP
    command_status: int = 0
    sequence_number: int = 0


@dataclass(frozen=True, slots=True)
class AlertNotification:
    """SMPP 3.4 §4.12.1 alert_notification (no response)."""

    command_id: ClassVar[CommandId] = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: Tlvs = ()
    sequence_number: int = 0


Bind = BindTransmitter | BindReceiver | BindTransceiver
BindResp = BindTransmitterResp | BindReceiverResp | BindTransceiverResp
Request = (
    Bind
    | Outbind
    | Unbind
    | SubmitSm
    | SubmitMulti
    | DeliverSm
    | DataSm
    | QuerySm
    | CancelSm
    | ReplaceSm
    | EnquireLink
    | AlertNotification
)
Response = (
    BindResp
    | UnbindResp
    | GenericNack
    | SubmitSmResp
    | SubmitMultiResp
    | DeliverSmResp
    | DataSmResp
    | QuerySmResp
    | CancelSmResp
    | ReplaceSmResp
    | EnquireLinkResp
)
Pdu = Request | Response
