"""The Ro Credit-Control-Request for one chargeable SMS (TS 32.274, TS 32.299 §6.4.2, IEC).

Immediate event charging: CC-Request-Type EVENT_REQUEST with Requested-Action DIRECT_DEBITING,
Service-Context-Id ``32274@3gpp.org``. Everything that does not change from one SMS to the next
(identities, profile choices, constant AVPs) is encoded once per profile and reused; small
integers (DCS, TP-PID, segment counts) come from precomputed tables.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import lru_cache
from typing import Literal

from charging import avp as a
from charging.avp import VENDOR_3GPP, AvpCode, TgppAvpCode
from charging.errors import CcrEncodeError

SERVICE_CONTEXT_ID_SMS = "32274@3gpp.org"
"""TS 32.274 / TS 32.299: the Service-Context-Id of SMS charging (MCC/MNC prefix omitted)."""

MAX_SEGMENTS = 255
"""TS 23.040 §9.2.3.24.1: a concatenated SM has at most 255 parts."""


class CcRequestType(IntEnum):
    """RFC 4006 §8.3."""

    INITIAL_REQUEST = 1
    UPDATE_REQUEST = 2
    TERMINATION_REQUEST = 3
    EVENT_REQUEST = 4


class RequestedAction(IntEnum):
    """RFC 4006 §8.41."""

    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class SubscriptionIdType(IntEnum):
    """RFC 4006 §8.47."""

    END_USER_E164 = 0
    END_USER_IMSI = 1
    END_USER_SIP_URI = 2
    END_USER_NAI = 3
    END_USER_PRIVATE = 4


class MultipleServicesIndicator(IntEnum):
    """RFC 4006 §8.40."""

    MULTIPLE_SERVICES_NOT_SUPPORTED = 0
    MULTIPLE_SERVICES_SUPPORTED = 1


class SmsNode(IntEnum):
    """TS 32.299 §7.2, SMS-Node AVP (2016)."""

    SMS_ROUTER = 0
    IP_SM_GW = 1
    SMS_ROUTER_AND_IP_SM_GW = 2
    SMS_SC = 3


class SmMessageType(IntEnum):
    """TS 32.299 §7.2, SM-Message-Type AVP (2007)."""

    SUBMISSION = 0
    DELIVERY_REPORT = 1
    SM_SERVICE_REQUEST = 2


class AddressType(IntEnum):
    """TS 32.299 §7.2, Address-Type AVP (899)."""

    E_MAIL_ADDRESS = 0
    MSISDN = 1
    IPV4_ADDRESS = 2
    IPV6_ADDRESS = 3
    NUMERIC_SHORTCODE = 4
    ALPHANUMERIC_SHORTCODE = 5
    OTHER = 6


class ReplyPathRequested(IntEnum):
    """TS 32.299 §7.2, Reply-Path-Requested AVP (2011)."""

    NO_REPLY_PATH_SET = 0
    REPLY_PATH_SET = 1


class NodeFunctionality(IntEnum):
    """TS 32.299 §7.2, Node-Functionality AVP (862)."""

    S_CSCF = 0
    P_CSCF = 1
    I_CSCF = 2
    MRFC = 3
    MGCF = 4
    BGCF = 5
    AS = 6
    IBCF = 7


class RoleOfNode(IntEnum):
    """TS 32.299 §7.2, Role-Of-Node AVP (829)."""

    ORIGINATING_ROLE = 0
    TERMINATING_ROLE = 1


RecipientNesting = Literal["rel8", "rel11"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsChargingEvent:
    """One chargeable MO short message, as the OCS needs to see it (TS 32.274, IEC)."""

    charged_msisdn: str  # E.164 digits of the charged party (a leading "+" is dropped)
    recipient: str  # TP-DA digits, or the text of an alphanumeric address
    calling_party_address: str  # the sender's URI (P-Asserted-Identity, e.g. tel:+49...)
    called_party_address: str  # the recipient's URI
    recipient_type: AddressType = AddressType.MSISDN  # or NUMERIC_/ALPHANUMERIC_SHORTCODE
    imsi: str | None = None
    segments: int = 1  # units to debit: CC-Service-Specific-Units, Number-Of-Messages-Sent
    dcs: int = 0  # TP-DCS
    pid: int = 0  # TP-PID
    udh: bytes | None = None  # TP-User-Data-Header as in TP-UD, UDHL octet first
    reply_path: bool = False  # TP-RP
    pani: str | None = None  # the P-Access-Network-Info header value, verbatim


@dataclass(frozen=True, slots=True, kw_only=True)
class OcsProfile:
    """What one OCS expects in the CCR (configuration, not per message)."""

    smsc_address: str  # E.164 digits of the SC (SMSC-Address); a leading "+" is dropped
    recipient_nesting: RecipientNesting = "rel11"
    sms_node: SmsNode = SmsNode.IP_SM_GW
    service_identifier: int | None = None
    rating_group: int | None = None
    multiple_services_indicator: bool = True


# --- AVP encoders (made once) ----------------------------------------------------------------

_TGPP = VENDOR_3GPP
_session_id = a.octet_string(AvpCode.SESSION_ID)
_origin_host = a.octet_string(AvpCode.ORIGIN_HOST)
_origin_realm = a.octet_string(AvpCode.ORIGIN_REALM)
_destination_realm = a.octet_string(AvpCode.DESTINATION_REALM)
_destination_host = a.octet_string(AvpCode.DESTINATION_HOST)
_event_timestamp = a.time(AvpCode.EVENT_TIMESTAMP)
_subscription_id = a.grouped(AvpCode.SUBSCRIPTION_ID)
_subscription_id_data = a.octet_string(AvpCode.SUBSCRIPTION_ID_DATA)
_subscription_id_type = a.enumerated(AvpCode.SUBSCRIPTION_ID_TYPE)
_mscc = a.grouped(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL)
_requested_service_unit = a.grouped(AvpCode.REQUESTED_SERVICE_UNIT)
_cc_service_specific_units = a.unsigned64(AvpCode.CC_SERVICE_SPECIFIC_UNITS)
_service_identifier = a.unsigned32(AvpCode.SERVICE_IDENTIFIER)
_rating_group = a.unsigned32(AvpCode.RATING_GROUP)

_service_information = a.grouped(TgppAvpCode.SERVICE_INFORMATION, _TGPP)
_sms_information = a.grouped(TgppAvpCode.SMS_INFORMATION, _TGPP)
_ims_information = a.grouped(TgppAvpCode.IMS_INFORMATION, _TGPP)
_sms_node = a.enumerated(TgppAvpCode.SMS_NODE, _TGPP)
_smsc_address = a.e164_address(TgppAvpCode.SMSC_ADDRESS, _TGPP)
_data_coding_scheme = a.integer32(TgppAvpCode.DATA_CODING_SCHEME, _TGPP)
_sm_message_type = a.enumerated(TgppAvpCode.SM_MESSAGE_TYPE, _TGPP)
_sm_protocol_id = a.octet_string(TgppAvpCode.SM_PROTOCOL_ID, _TGPP)
_reply_path_requested = a.enumerated(TgppAvpCode.REPLY_PATH_REQUESTED, _TGPP)
_sm_user_data_header = a.octet_string(TgppAvpCode.SM_USER_DATA_HEADER, _TGPP)
_number_of_messages_sent = a.unsigned32(TgppAvpCode.NUMBER_OF_MESSAGES_SENT, _TGPP)
_recipient_info = a.grouped(TgppAvpCode.RECIPIENT_INFO, _TGPP)
_recipient_address = a.grouped(TgppAvpCode.RECIPIENT_ADDRESS, _TGPP)
_originator_received_address = a.grouped(TgppAvpCode.ORIGINATOR_RECEIVED_ADDRESS, _TGPP)
_address_type = a.enumerated(TgppAvpCode.ADDRESS_TYPE, _TGPP)
_address_data = a.octet_string(TgppAvpCode.ADDRESS_DATA, _TGPP)
_role_of_node = a.enumerated(TgppAvpCode.ROLE_OF_NODE, _TGPP)
_node_functionality = a.enumerated(TgppAvpCode.NODE_FUNCTIONALITY, _TGPP)
_calling_party_address = a.octet_string(TgppAvpCode.CALLING_PARTY_ADDRESS, _TGPP)
_called_party_address = a.octet_string(TgppAvpCode.CALLED_PARTY_ADDRESS, _TGPP)
_access_network_information = a.octet_string(TgppAvpCode.ACCESS_NETWORK_INFORMATION, _TGPP)

# --- constant AVPs ---------------------------------------------------------------------------

_APPLICATION_AND_CONTEXT = b"".join(
    (
        a.unsigned32(AvpCode.AUTH_APPLICATION_ID)(a.ApplicationId.DIAMETER_CREDIT_CONTROL),
        a.octet_string(AvpCode.SERVICE_CONTEXT_ID)(SERVICE_CONTEXT_ID_SMS.encode("ascii")),
        a.enumerated(AvpCode.CC_REQUEST_TYPE)(CcRequestType.EVENT_REQUEST),
        a.unsigned32(AvpCode.CC_REQUEST_NUMBER)(0),
    )
)
_REQUESTED_ACTION = a.enumerated(AvpCode.REQUESTED_ACTION)(RequestedAction.DIRECT_DEBITING)
_MULTIPLE_SERVICES = a.enumerated(AvpCode.MULTIPLE_SERVICES_INDICATOR)(
    MultipleServicesIndicator.MULTIPLE_SERVICES_SUPPORTED
)
_E164_TYPE = _subscription_id_type(SubscriptionIdType.END_USER_E164)
_IMSI_TYPE = _subscription_id_type(SubscriptionIdType.END_USER_IMSI)
_SUBMISSION = _sm_message_type(SmMessageType.SUBMISSION)
_MSISDN_TYPE = _address_type(AddressType.MSISDN)
_ADDRESS_TYPES = {t: _address_type(t) for t in AddressType}
_IMS_HEAD = _role_of_node(RoleOfNode.ORIGINATING_ROLE) + _node_functionality(NodeFunctionality.AS)
_REPLY_PATH = (
    _reply_path_requested(ReplyPathRequested.NO_REPLY_PATH_SET),
    _reply_path_requested(ReplyPathRequested.REPLY_PATH_SET),
)
_OCTET = range(256)
_DCS = tuple(_data_coding_scheme(v) for v in _OCTET)
_PID = tuple(_sm_protocol_id(bytes((v,))) for v in _OCTET)
_MESSAGES_SENT = tuple(_number_of_messages_sent(v) for v in range(MAX_SEGMENTS + 1))
_RP = a.CommandFlag.REQUEST | a.CommandFlag.PROXIABLE
_REQUEST_FLAGS = (int(_RP), int(_RP | a.CommandFlag.RETRANSMITTED))  # indexed by retransmission


@dataclass(frozen=True, slots=True)
class _Static:
    """The parts of a CCR fixed by the profile and the local/OCS identities."""

    identities: bytes  # Origin-Host .. CC-Request-Number [Destination-Host]
    action: bytes  # Requested-Action [Multiple-Services-Indicator]
    mscc: tuple[bytes, ...]  # the whole MSCC, indexed by the number of units
    sms_head: bytes  # SMS-Node, SMSC-Address
    rel11: bool


def _digits(value: str, what: str, low: int, high: int) -> str:
    digits = value[1:] if value[:1] == "+" else value
    if not (low <= len(digits) <= high and digits.isascii() and digits.isdigit()):
        raise CcrEncodeError(f"{what} {value!r} is not {low}..{high} decimal digits")
    return digits


def _identity(value: str, what: str) -> bytes:
    """RFC 6733 §4.3.1 DiameterIdentity: an FQDN or realm, ASCII."""
    if not value or not value.isascii():
        raise CcrEncodeError(f"{what} {value!r} is not a DiameterIdentity")
    return value.encode("ascii")


@lru_cache(maxsize=32)
def _static(
    profile: OcsProfile,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    destination_host: str | None,
) -> _Static:
    identities = (
        _origin_host(_identity(origin_host, "Origin-Host"))
        + _origin_realm(_identity(origin_realm, "Origin-Realm"))
        + _destination_realm(_identity(destination_realm, "Destination-Realm"))
        + _APPLICATION_AND_CONTEXT
    )
    if destination_host is not None:
        identities += _destination_host(_identity(destination_host, "Destination-Host"))
    tail = b""
    try:
        if profile.service_identifier is not None:
            tail += _service_identifier(profile.service_identifier)
        if profile.rating_group is not None:
            tail += _rating_group(profile.rating_group)
    except struct.error as exc:
        raise CcrEncodeError(f"Service-Identifier/Rating-Group out of range: {exc}") from exc
    mscc = tuple(
        _mscc(_requested_service_unit(_cc_service_specific_units(n)) + tail)
        for n in range(MAX_SEGMENTS + 1)
    )
    if profile.recipient_nesting not in ("rel8", "rel11"):
        raise CcrEncodeError(f"recipient nesting {profile.recipient_nesting!r}")
    try:
        node = _sms_node(SmsNode(profile.sms_node))
    except ValueError as exc:
        raise CcrEncodeError(f"SMS-Node {profile.sms_node!r}") from exc
    smsc = _smsc_address(_digits(profile.smsc_address, "SMSC address", 1, 20))
    action = _REQUESTED_ACTION + (
        _MULTIPLE_SERVICES if profile.multiple_services_indicator else b""
    )
    return _Static(identities, action, mscc, node + smsc, profile.recipient_nesting == "rel11")


def build_ccr(
    event: SmsChargingEvent,
    profile: OcsProfile,
    *,
    session_id: str,
    hop_by_hop: int,
    end_to_end: int,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    event_time: datetime,
    retransmission: bool = False,
    destination_host: str | None = None,
) -> bytes:
    """Encode the CCR[EVENT_REQUEST, DIRECT_DEBITING] for one SMS (TS 32.299 §6.4.2 ABNF order).

    ``retransmission`` sets the T flag (RFC 6733 §3) for the copy sent to another peer after a
    failover; the Session-Id and end-to-end identifier must then be those of the first attempt.
    """
    static = _static(profile, origin_host, origin_realm, destination_realm, destination_host)
    if not session_id:
        raise CcrEncodeError("empty Session-Id")
    try:
        body = _session_id(session_id.encode("utf-8")) + _body(event, static, event_time)
        return a.encode_message(
            _REQUEST_FLAGS[retransmission],
            a.CommandCode.CREDIT_CONTROL,
            a.ApplicationId.DIAMETER_CREDIT_CONTROL,
            hop_by_hop=hop_by_hop,
            end_to_end=end_to_end,
            body=body,
        )
    except CcrEncodeError:
        raise
    except (struct.error, ValueError, LookupError, TypeError, AttributeError) as exc:
        raise CcrEncodeError(f"cannot encode the CCR: {exc}") from exc


def _body(event: SmsChargingEvent, static: _Static, event_time: datetime) -> bytes:
    """Every AVP after Session-Id."""
    msisdn = _digits(event.charged_msisdn, "charged MSISDN", 1, 15).encode("ascii")
    segments = event.segments
    if not 1 <= segments <= MAX_SEGMENTS:
        raise CcrEncodeError(f"{segments} segments is outside 1..{MAX_SEGMENTS}")
    if not (0 <= event.dcs <= 255 and 0 <= event.pid <= 255):
        raise CcrEncodeError(f"TP-DCS {event.dcs} / TP-PID {event.pid} is not one octet")

    subscription = _subscription_id(_E164_TYPE + _subscription_id_data(msisdn))
    if event.imsi is not None:
        imsi = _digits(event.imsi, "IMSI", 5, 15).encode("ascii")
        subscription += _subscription_id(_IMSI_TYPE + _subscription_id_data(imsi))

    address = _ADDRESS_TYPES[event.recipient_type] + _address_data(event.recipient.encode("utf-8"))
    if static.rel11:
        recipient = _recipient_info(_recipient_address(address))
    else:
        recipient = _recipient_address(address)
    sms = _sms_information(
        static.sms_head
        + _DCS[event.dcs]
        + _SUBMISSION
        + _PID[event.pid]
        + _REPLY_PATH[event.reply_path]
        + (b"" if event.udh is None else _sm_user_data_header(event.udh))
        + _MESSAGES_SENT[segments]
        + recipient
        + _originator_received_address(_MSISDN_TYPE + _address_data(msisdn))
    )
    ims = (
        _IMS_HEAD
        + _calling_party_address(event.calling_party_address.encode("utf-8"))
        + _called_party_address(event.called_party_address.encode("utf-8"))
    )
    if event.pani is not None:
        ims += _access_network_information(event.pani.encode("utf-8", "surrogateescape"))

    return (
        static.identities
        + _event_timestamp(event_time)
        + subscription
        + static.action
        + static.mscc[segments]
        + _service_information(_ims_information(ims) + sms)
    )
