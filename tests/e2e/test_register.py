"""Third-party REGISTER from the S-CSCF: MT for the IMPU goes to the S-CSCF that registered it."""

from __future__ import annotations

import aiohttp

from smsc.sms.rp import RpData, decode_rp
from tests.e2e.conftest import Starter, http_base, sip_port
from tests.e2e.peer import UdpPeer, Wire, response_to, udp_peer

IMPU = "sip:+491710000021@ims.example.net;user=phone"
UE_REGISTER = (
    "REGISTER sip:ims.example.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK-ue\r\n"
    "From: <sip:+491710000021@ims.example.net>;tag=u1\r\n"
    "To: <sip:+491710000021@ims.example.net>\r\n"
    "Call-ID: ue-reg@10.0.0.7\r\nCSeq: 3 REGISTER\r\n"
    "Contact: <sip:ue@10.0.0.7:5060>;+g.3gpp.smsip;expires=600\r\n"
    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=262011234567890a\r\n"
    "Content-Length: 0\r\n\r\n"
)


async def register(peer: UdpPeer, port: int, expires: int, body: bool = True) -> Wire:
    payload = UE_REGISTER.encode() if body else b""
    lines = [
        "REGISTER sip:smsc@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-reg-{expires}-{body};rport",
        "Max-Forwards: 70",
        "From: <sip:scscf.ims.example.net>;tag=s1",
        f"To: <{IMPU}>",
        f"Call-ID: reg-{expires}-{body}@scscf",
        "CSeq: 1 REGISTER",
        f"Contact: <sip:127.0.0.1:{peer.port}>",
        f"Expires: {expires}",
        *(("Content-Type: message/sip",) if body else ()),
        f"Content-Length: {len(payload)}",
    ]
    peer.send(("\r\n".join(lines) + "\r\n\r\n").encode() + payload, ("127.0.0.1", port))
    return await peer.next()


async def test_mt_goes_to_the_registering_scscf_and_stops_after_deregistration(
    start_smsc: Starter,
) -> None:
    scscf = await udp_peer()
    app = await start_smsc()  # no next_hop: only a registration gives a route
    try:
        answer = await register(scscf, sip_port(app), 600)
        assert answer.status == 200
        assert answer.get("Expires") == "600"
        registration = app.registrar.lookup("491710000021", 0.0)
        assert registration is not None
        assert registration.sms_over_ip is True
        assert registration.access_network_info is not None
        async with aiohttp.ClientSession() as http:
            await http.post(
                f"{http_base(app)}/api/v1/messages",
                json={"to": "+491710000021", "from": "Shop", "text": "hello"},
            )
            mt = await scscf.next_request()
            assert mt.start == "MESSAGE tel:+491710000021 SIP/2.0"
            assert isinstance(decode_rp(mt.body), RpData)
            scscf.send(response_to(mt), mt.source)
            seen = await (
                await http.get(f"{http_base(app)}/api/v1/subscribers/+491710000021")
            ).json()
            assert seen["registered"] is True
            assert seen["registration"]["scscf"] == f"sip:127.0.0.1:{scscf.port}"
            assert seen["registration"]["sms_over_ip"] is True
            assert [w["state"] for w in seen["waiting"]] == ["delivering"]  # no RP-ACK yet
            bad = await http.get(f"{http_base(app)}/api/v1/subscribers/alice")
            assert bad.status == 422
        gone = await register(scscf, sip_port(app), 0, body=False)
        assert gone.status == 200
        assert app.registrar.lookup("491710000021", 0.0) is None
    finally:
        scscf.close()


async def test_register_without_contact_or_number_is_refused(start_smsc: Starter) -> None:
    peer = await udp_peer()
    app = await start_smsc()
    try:
        raw = (
            "REGISTER sip:smsc@ims.example.net SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-bad;rport\r\n"
            "From: <sip:scscf>;tag=1\r\nTo: <sip:alice@ims.example.net>\r\n"
            "Call-ID: bad@x\r\nCSeq: 1 REGISTER\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        peer.send(raw, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 404
    finally:
        peer.close()
