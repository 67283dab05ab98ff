"""Which process handles a datagram (smsc/sip/steering.py) and the frames between processes
(smsc/workers/frames.py)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.endpoint import SipEndpoint
from smsc.sip.steering import MAIN, branch_owner, branch_tag, handler_of, is_mo_rp_data
from smsc.workers.frames import (
    Datagram,
    FrameError,
    MetricsSnapshot,
    Ready,
    Wake,
    decode,
    encode,
)

RP_DATA_MO = bytes.fromhex(
    "00 05 00 07 91 94 71 01 67 00 00 06 01 05 0a 81 00 00 00 00".replace(" ", "")
)


def request(method: str = "MESSAGE", body: bytes = RP_DATA_MO, branch: str = "z9hG4bK-x1") -> bytes:
    head = (
        f"{method} sip:smsc@ims.example.net SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport\r\n"
        "From: <tel:+491711234567>;tag=a\r\nTo: <sip:smsc@ims.example.net>\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/vnd.3gpp.sms\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def response(top_via: str, status: str = "200 OK", compact: bool = False) -> bytes:
    via = "v" if compact else "Via"
    return (
        f"SIP/2.0 {status}\r\n{via}: {top_via}\r\n"
        "Via: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKw7.not-the-top\r\n"
        "From: <sip:smsc@ims.example.net>;tag=1\r\nTo: <tel:+491711234567>;tag=2\r\n"
        "Call-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("index", [0, 1, 2, 17, 63])
def test_a_branch_of_process_n_names_process_n(index: int) -> None:
    endpoint = SipEndpoint(
        local_via_host="127.0.0.1", local_port=5060, branch_tag=branch_tag(index)
    )
    branch = endpoint.new_branch()
    assert branch.startswith("z9hG4bK")
    assert branch_owner(response(f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport")) == index


def test_untagged_and_foreign_branches_have_no_owner() -> None:
    plain = SipEndpoint(local_via_host="127.0.0.1", local_port=5060).new_branch()
    assert branch_owner(response(f"SIP/2.0/UDP h;branch={plain}")) is None
    assert branch_owner(response("SIP/2.0/UDP h;branch=z9hG4bKwx.1")) is None
    assert branch_owner(response("SIP/2.0/UDP h;branch=z9hG4bKw12345.1")) is None
    assert branch_owner(response("SIP/2.0/UDP h;received=1.2.3.4")) is None  # not the 2nd Via's


def test_only_the_top_via_counts() -> None:
    top = "SIP/2.0/UDP h;branch=z9hG4bKw2.abc, SIP/2.0/UDP g;branch=z9hG4bKw3.def"
    assert branch_owner(response(top)) == 2
    assert branch_owner(response("SIP/2.0/UDP h;branch=z9hG4bKw4.abc", compact=True)) == 4
    lower = response("SIP/2.0/UDP h;branch=z9hG4bKw5.abc").replace(b"Via:", b"VIA:", 1)
    assert branch_owner(lower) == 5


def test_responses_go_to_their_owner() -> None:
    mine = response("SIP/2.0/UDP h;branch=z9hG4bKw1.abc")
    assert handler_of(mine, me=1, processes=3) is None
    assert handler_of(mine, me=0, processes=3) == 1
    assert handler_of(mine, me=2, processes=3) == 1
    assert handler_of(mine, me=0, processes=1) is None  # no such process: handled here
    untagged = response("SIP/2.0/UDP h;branch=z9hG4bK-loadgen")
    assert handler_of(untagged, me=2, processes=3) is None


def test_workers_keep_mo_rp_data_and_pass_everything_else_to_main() -> None:
    assert is_mo_rp_data(request())
    assert handler_of(request(), me=1, processes=2) is None
    rp_ack_from_ue = bytes((0x02, 0x05))
    rp_error_from_ue = bytes((0x04, 0x05, 0x01, 0x16))
    rp_smma = bytes((0x06, 0x05))
    for body in (rp_ack_from_ue, rp_error_from_ue, rp_smma, b"--boundary\r\n", b""):
        assert not is_mo_rp_data(request(body=body))
        assert handler_of(request(body=body), me=1, processes=2) == MAIN
    for method in ("REGISTER", "OPTIONS", "INFO"):
        assert handler_of(request(method=method), me=1, processes=2) == MAIN
    # the main process handles every request itself
    for body in (RP_DATA_MO, rp_ack_from_ue, rp_smma):
        assert handler_of(request(body=body), me=MAIN, processes=2) is None
    assert handler_of(request(method="REGISTER"), me=MAIN, processes=2) is None


@given(st.binary(max_size=600), st.integers(0, 8), st.integers(1, 9))
def test_any_octets_get_a_handler_and_no_exception(data: bytes, me: int, processes: int) -> None:
    handler = handler_of(data, me, processes)
    assert handler is None or 0 <= handler < processes


hosts = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str), st.just("scscf.example.net")
)


@given(hosts, st.integers(0, 65535), st.binary(max_size=2000))
def test_datagram_frames_round_trip(host: str, port: int, data: bytes) -> None:
    frame = Datagram((host, port), data)
    assert decode(encode(frame)) == frame


@given(st.text(max_size=40))
def test_wake_frames_round_trip(recipient: str) -> None:
    assert decode(encode(Wake(recipient))) == Wake(recipient)


def test_metrics_and_ready_frames_round_trip() -> None:
    samples = {"smsc_mo_received_total": [[{"type": "rp-data"}, 3.0]]}
    assert decode(encode(MetricsSnapshot(samples))) == MetricsSnapshot(samples)
    assert decode(encode(Ready())) == Ready()


@given(st.binary(max_size=300))
def test_any_octets_are_a_frame_or_a_frame_error(octets: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode(octets)


def test_malformed_frames_are_frame_errors() -> None:
    malformed = (b"", b"D", b"D\x05\x00", b"D\x09\x13\xc4abc", b"M{not json", b"R!", b"Z", b"W\xff")
    for octets in malformed:
        with pytest.raises(FrameError):
            decode(octets)
