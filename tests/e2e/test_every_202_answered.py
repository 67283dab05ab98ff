"""Every MESSAGE we accept with 202 gets exactly one RP answer; what the MO path could not
answer is refused with 400 before the 202 (measured: duplicate or spaced Call-IDs and a
P-Asserted-Identity with a space got 202 and then silence)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.sms.rp import RpAck, RpError, decode_rp
from tests.e2e.conftest import Starter, sip_port
from tests.e2e.peer import UdpPeer, Wire, response_to, udp_peer
from tests.e2e.test_mo_mt import MO_BODY, PSI

_branches = itertools.count(1)


def request(
    port: int,
    *,
    call_ids: tuple[str, ...] = ("mo-1@peer",),
    pai: str = "<tel:+491710000001>",
    froms: tuple[str, ...] = ("<tel:+491710000001>;tag=t1",),
    body: bytes = MO_BODY,
) -> bytes:
    lines = [
        f"MESSAGE {PSI} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-every-{next(_branches)};rport",
        "Max-Forwards: 69",
        *(f"From: {value}" for value in froms),
        f"To: <{PSI}>",
        *(f"Call-ID: {value}" for value in call_ids),
        "CSeq: 1 MESSAGE",
        f"P-Asserted-Identity: {pai}",
        "Content-Type: application/vnd.3gpp.sms",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def answers(peer: UdpPeer, within: float) -> list[Wire]:
    got = []
    try:
        while True:
            got.append(await peer.next(within))
    except TimeoutError:
        return got


async def exchange(peer: UdpPeer, port: int, data: bytes, call_ids: list[str]) -> tuple[int, int]:
    """Send one request: (its final status, how many RP answers to it followed)."""
    peer.send(data, ("127.0.0.1", port))
    got = await answers(peer, 0.3)
    finals = [w.status for w in got if not w.is_request]
    rp: dict[str, RpAck | RpError] = {}  # by Call-ID: our retransmissions count once
    for wire in got:
        if wire.is_request:
            # 200 as an S-CSCF answers, so that no retransmission of it outlives this socket
            # and reaches a later one bound to the same port
            peer.send(response_to(wire), wire.source)
            if wire.headers.get("in-reply-to", [""])[0] not in {c.strip() for c in call_ids}:
                continue  # another test's retransmission to a port used again
            message = decode_rp(wire.body)
            assert isinstance(message, RpAck | RpError)
            rp[wire.get("Call-ID")] = message
    assert len(finals) == 1, got
    return finals[0], len(rp)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"call_ids": ("a@b", "c@d")}, "Conflicting Call-ID"),
        ({"call_ids": ("a b@c",)}, "Bad Call-ID"),
        ({"pai": "<tel:+49171 0000001>"}, "unusable P-Asserted-Identity"),
        ({"froms": ("<tel:+1>;tag=a", "<tel:+2>;tag=b")}, "From"),
    ],
)
async def test_what_the_mo_path_cannot_answer_is_400_before_any_202(
    start_smsc: Starter, changes: dict[str, Any], reason: str
) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        peer.send(request(peer.port, **changes), ("127.0.0.1", sip_port(app)))
        [answer] = await answers(peer, 0.5)
        assert answer.status == 400
        assert reason in answer.start
    finally:
        peer.close()


CALL_IDS = st.lists(
    st.sampled_from(["ok@peer", "a b@c", "x", "", "\t", "é@x", "a@b@c", "<x>"]),
    min_size=1,
    max_size=2,
)
PAIS = st.sampled_from(
    [
        "<tel:+491710000001>",
        "<tel:+49171 0000001>",
        "<sip:+491710000001@ims.example;user=phone>",
        "tel:+491710000001",
        "<tel:+491710000001>, <sip:x@y>",
        "<sip:alice@ims.example>",
        "<tel:+4917100000\x7f01>",
        "",
    ]
)


running: list[tuple[Starter, Any]] = []
"""One SMSC for every example of the property (started by the first)."""


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(call_ids=CALL_IDS, pai=PAIS, trailing=st.booleans())
async def test_a_202_is_always_followed_by_exactly_one_rp_answer(
    start_smsc: Starter, call_ids: list[str], pai: str, trailing: bool
) -> None:
    if not running or running[0][0] is not start_smsc:  # a new run of the test: a new SMSC
        running[:] = [(start_smsc, await start_smsc())]
    app = running[0][1]
    peer = await udp_peer()
    try:
        body = MO_BODY + (b"\x00" if trailing else b"")  # trailing octets: RP-ERROR 95
        data = request(peer.port, call_ids=tuple(call_ids), pai=pai, body=body)
        status, rp_answers = await exchange(peer, sip_port(app), data, call_ids)
        if status == 202:
            assert rp_answers == 1
        else:
            assert 400 <= status < 500
            assert rp_answers == 0
    finally:
        peer.close()
