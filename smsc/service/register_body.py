"""The UE's REGISTER carried in a third-party REGISTER (TS 24.229 §5.7.1.2, message/sip)."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.sip.errors import SipParseError
from smsc.sip.headers import ContentType
from smsc.sip.message import parse_message

SMSIP_TAG = "+g.3gpp.smsip"
"""TS 24.341 §5.3.1.2: the feature tag of an SMS-over-IP capable UE."""


@dataclass(frozen=True, slots=True)
class UeRegistration:
    """What the included REGISTER (or its 200 OK) says about the UE."""

    sms_over_ip: bool
    access_network_info: str | None


def ue_registration(content_type: ContentType | None, body: bytes) -> UeRegistration | None:
    """Parse a message/sip body; None when there is none or it cannot be read."""
    if content_type is None or not content_type.matches("message/sip") or not body:
        return None
    try:
        message = parse_message(body)
    except SipParseError:
        return None
    try:
        contacts = message.contact
    except SipParseError:
        contacts = []
    sms_over_ip = any(SMSIP_TAG in {key.lower() for key in contact.params} for contact in contacts)
    return UeRegistration(sms_over_ip, message.header("P-Access-Network-Info"))
