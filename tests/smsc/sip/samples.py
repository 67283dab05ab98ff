"""Realistic IMS MESSAGE traffic (TS 24.341 MO SMS as sent by an S-CSCF), as data."""

from __future__ import annotations

RP_DATA_BODY = bytes.fromhex("000d00079194710106000012010d0a919471320990000006c8329bfd0e01")
"""RP-DATA MS->N (30 octets) with SMS-SUBMIT "Hello!"; TP-MR 0x0d + TP-DA length 0x0a = CR LF."""

_HEAD = (
    "MESSAGE sip:smsc@ims.mnc001.mcc262.3gppnetwork.org SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bK-524287-1-0ab3f7\r\n"
    "Via: SIP/2.0/UDP 10.20.30.40:5070;rport=5070;branch=z9hG4bKx8f2a\r\n"
    "Max-Forwards: 68\r\n"
    "Route: <sip:10.10.1.9;lr>\r\n"
    "From: <sip:+491711234567@ims.mnc001.mcc262.3gppnetwork.org>;tag=8c1d2e3f\r\n"
    "To: <sip:smsc@ims.mnc001.mcc262.3gppnetwork.org>\r\n"
    "Call-ID: a84b4c76e66710@10.20.30.40\r\n"
    "CSeq: 4711 MESSAGE\r\n"
    "P-Asserted-Identity: <sip:+491711234567@ims.mnc001.mcc262.3gppnetwork.org>, "
    "<tel:+491711234567>\r\n"
    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=262011234abcd0123\r\n"
    "Content-Type: application/vnd.3gpp.sms\r\n"
    "Accept-Contact: *;+g.3gpp.smsip\r\n"
    "Request-Disposition: no-fork\r\n"
)

MO_MESSAGE = (_HEAD + f"Content-Length: {len(RP_DATA_BODY)}\r\n\r\n").encode() + RP_DATA_BODY
"""A ~730-byte MO MESSAGE with a binary body containing CR LF."""

MO_MESSAGE_COMPACT = (
    "MESSAGE sip:smsc@ims.example.net SIP/2.0\r\n"
    "v: SIP/2.0/TCP 10.10.1.5;branch=z9hG4bKcompact1\r\n"
    "f: <sip:+491711234567@ims.example.net>;tag=1\r\n"
    "t: <sip:smsc@ims.example.net>\r\n"
    "i: compact-1@10.10.1.5\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "c: application/vnd.3gpp.sms\r\n"
    "a: *;+g.3gpp.smsip\r\n"
    "d: no-fork\r\n"
    f"l: {len(RP_DATA_BODY)}\r\n\r\n"
).encode() + RP_DATA_BODY

OK_200 = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP {via}\r\n"
    "From: <sip:smsc@ims.mnc001.mcc262.3gppnetwork.org>;tag=smsc1\r\n"
    "To: <sip:+491711234567@ims.mnc001.mcc262.3gppnetwork.org>;tag=ue77\r\n"
    "Call-ID: {call_id}\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Length: 0\r\n\r\n"
)
"""The UE's 200 to an MT/report MESSAGE; fill in the Via of the request and its Call-ID."""
