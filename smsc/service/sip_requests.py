"""The SIP MESSAGE requests the SMSC originates (TS 24.341 §5.3.2.4, §5.3.2.5)."""

from __future__ import annotations

from smsc.sip.message import SipRequest

CONTENT_TYPE_SMS = "application/vnd.3gpp.sms"
ACCEPT_CONTACT_SMSIP = "*;+g.3gpp.smsip;require;explicit"


def answer_to_mo_headers(
    psi: str, ue_identity: str, in_reply_to: str, *, call_id: str, tag: str
) -> tuple[tuple[str, str], ...]:
    """The headers of the new MESSAGE carrying RP-ACK / RP-ERROR back to the UE of an MO."""
    return (
        ("From", f"<{psi}>;tag={tag}"),
        ("To", f"<{ue_identity}>"),
        ("Call-ID", call_id),
        ("CSeq", "1 MESSAGE"),
        ("P-Asserted-Identity", f"<{psi}>"),
        ("In-Reply-To", in_reply_to),
        ("Request-Disposition", "no-fork"),
        ("Content-Type", CONTENT_TYPE_SMS),
    )


def answer_to_mo(
    psi: str, ue_identity: str, in_reply_to: str, *, call_id: str, tag: str, body: bytes
) -> SipRequest:
    """The new MESSAGE carrying RP-ACK / RP-ERROR back to the UE that sent an MO."""
    headers = answer_to_mo_headers(psi, ue_identity, in_reply_to, call_id=call_id, tag=tag)
    return SipRequest("MESSAGE", ue_identity, headers, body)


def mt_message_headers(
    psi: str, recipient_uri: str, call_id: str, tag: str
) -> tuple[tuple[str, str], ...]:
    """The headers of the MESSAGE carrying MT RP-DATA to a recipient (TS 24.341 §5.3.2.5)."""
    return (
        ("From", f"<{psi}>;tag={tag}"),
        ("To", f"<{recipient_uri}>"),
        ("Call-ID", call_id),
        ("CSeq", "1 MESSAGE"),
        ("P-Asserted-Identity", f"<{psi}>"),
        ("Accept-Contact", ACCEPT_CONTACT_SMSIP),
        ("Request-Disposition", "no-fork"),
        ("Content-Type", CONTENT_TYPE_SMS),
    )


def mt_message(psi: str, recipient_uri: str, call_id: str, tag: str, body: bytes) -> SipRequest:
    """The MESSAGE carrying MT RP-DATA to a recipient (TS 24.341 §5.3.2.5)."""
    headers = mt_message_headers(psi, recipient_uri, call_id, tag)
    return SipRequest("MESSAGE", recipient_uri, headers, body)
