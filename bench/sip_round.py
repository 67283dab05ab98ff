"""One MO round through the sans-IO SIP endpoint alone: µs (or instructions) per round.

A round is what the S-CSCF's MO costs the data plane: the load generator's MESSAGE in, its
202 out, the RP-ACK MESSAGE sent as a new client transaction, the S-CSCF's 200 to it in, and
the timers polled. No sockets, no store, no codec: the wire path's share of an MO.

For a figure that does not depend on the machine's load, count instructions:
``valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/sip_round.py --rounds N``
for two values of N; the difference over the difference of N is instructions per round.

``--mt WINDOW`` runs the MT pattern instead: WINDOW MESSAGEs sent, the S-CSCF's 200s to them,
then the UEs' MESSAGEs carrying RP-ACK and our 200s.

Run from the repository root after `pip install -e .`:
``python bench/sip_round.py [--rounds N] [--repeats R] [--mt WINDOW]``; ``SMSC_NATIVE=0``
for Python only.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's smsc and tests

from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.events import Outgoing
from tests.fuzz_sip_lanes import LOADGEN_MESSAGE

SCSCF = ("127.0.0.1", 5090)
_BRANCH = b"branch=z9hG4bK1a2b3c4d.7.1234;"
_CALL_ID = b"Call-ID: lg1a2b3c4d-7-1234@127.0.0.1"
ANSWER_HEADERS = (
    ("To", "<tel:+491700000007>"),
    ("From", "<sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>;tag=4d2"),
    ("Call-ID", "c0ffee@127.0.0.1"),
    ("CSeq", "1 MESSAGE"),
    ("Content-Type", "application/vnd.3gpp.sms"),
)
ANSWER_BODY = bytes.fromhex("0307410200")


def _messages(rounds: int) -> list[bytes]:
    """The load generator's MESSAGE with a branch and Call-ID of its own per round."""
    out = []
    for i in range(rounds):
        out.append(
            LOADGEN_MESSAGE.replace(_BRANCH, b"branch=z9hG4bK1a2b3c4d.7.%d;" % i).replace(
                _CALL_ID, b"Call-ID: lg1a2b3c4d-7-%d@127.0.0.1" % i
            )
        )
    return out


def _ok_for(request: bytes) -> bytes:
    """The S-CSCF's 200 to one of our MESSAGEs: its Via, From, To, Call-ID and CSeq."""
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [line for line in head[1:] if line.split(b":", 1)[0] in _COPY]
    to = next(i for i, line in enumerate(keep) if line.startswith(b"To:"))
    keep[to] += b";tag=ue1"
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


_COPY = (b"Via", b"From", b"To", b"Call-ID", b"CSeq")


def _oks_to_come(
    endpoint: SipEndpoint, template: bytes, last: Outgoing, numbers: Iterable[int]
) -> list[bytes]:
    """The S-CSCF's 200s to MESSAGEs not sent yet, made beforehand: `template` (the 200 to
    the MESSAGE `last`, sent with the id counter's newest value) with the branch each will
    get, by the counter value it will be made with."""
    branch = last.key[0] if last.key else ""
    prefix = branch[: -len(f"{endpoint._counter:x}")]
    return [template.replace(branch.encode(), f"{prefix}{n:x}".encode()) for n in numbers]


def run(rounds: int, step: float = 0.002) -> float:
    """Seconds for `rounds` MO rounds through a fresh endpoint (inputs made beforehand)."""
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=5060)
    messages = _messages(rounds + 2)
    udp = Transport.UDP
    now = 1000.0
    counters = []
    for setup in (rounds, rounds + 1):  # two rounds: how far the id counter moves per round
        endpoint.receive_datagram(messages[setup], SCSCF, udp, now)
        endpoint.send_response(endpoint.next_event(), 202, now=now)
        endpoint.send_message(
            "sip:+491700000007@ims", ANSWER_HEADERS, ANSWER_BODY, SCSCF, udp, now=now
        )
        out = endpoint.data_to_send()
        template = _ok_for(out[-1].data)
        endpoint.receive_datagram(template, SCSCF, udp, now)
        endpoint.next_event()
        counters.append(endpoint._counter)
    ids_per_round = counters[1] - counters[0]
    numbers = (endpoint._counter + ids_per_round * (i + 1) for i in range(rounds))
    oks = _oks_to_come(endpoint, template, out[-1], numbers)
    receive, send_response = endpoint.receive_datagram, endpoint.send_response
    send_message, next_event = endpoint.send_message, endpoint.next_event
    data_to_send, poll = endpoint.data_to_send, endpoint.poll
    started = time.perf_counter()
    for i in range(rounds):
        now += step  # Timers K (T4) and J (64*T1) expire within a long enough run
        receive(messages[i], SCSCF, udp, now)
        event = next_event()
        send_response(event, 202, now=now)
        send_message("sip:+491700000007@ims", ANSWER_HEADERS, ANSWER_BODY, SCSCF, udp, now=now)
        data_to_send()
        receive(oks[i], SCSCF, udp, now)
        response = next_event()
        assert response is not None and response.status == 200, response
        poll(now)
    took = time.perf_counter() - started
    assert endpoint.counters.stray_responses == 0
    return took


def run_mt(rounds: int, window: int, step: float = 0.002) -> float:
    """Seconds for `rounds` MT rounds in windows of `window` outstanding MESSAGEs: each MT
    MESSAGE sent, the S-CSCF's 200 to it, then the UE's MESSAGE with its RP-ACK and our 200
    (the load generator's MESSAGE stands in for it: the endpoint reads it the same way)."""
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=5060)
    udp = Transport.UDP
    now = 1000.0
    answers = _messages(rounds + 2)
    counters = []
    for setup in (rounds, rounds + 1):  # how far the id counter moves per round
        endpoint.send_message(
            "sip:+491700000007@ims", ANSWER_HEADERS, ANSWER_BODY, SCSCF, udp, now=now
        )
        out = endpoint.data_to_send()
        template = _ok_for(out[-1].data)
        endpoint.receive_datagram(template, SCSCF, udp, now)
        endpoint.next_event()
        endpoint.receive_datagram(answers[setup], SCSCF, udp, now)
        endpoint.send_response(endpoint.next_event(), 200, now=now)
        endpoint.data_to_send()
        counters.append(endpoint._counter)
    ids_per_round = counters[1] - counters[0]
    first = endpoint._counter
    numbers = (  # a window's MESSAGEs are sent before its answers
        first + (i // window) * window * ids_per_round + (i % window) + 1 for i in range(rounds)
    )
    oks = _oks_to_come(endpoint, template, out[-1], numbers)
    receive, send_response = endpoint.receive_datagram, endpoint.send_response
    send_message, next_event = endpoint.send_message, endpoint.next_event
    data_to_send, poll = endpoint.data_to_send, endpoint.poll
    started = time.perf_counter()
    for start in range(0, rounds, window):
        now += step * window
        batch = range(start, min(start + window, rounds))
        for _ in batch:
            send_message("sip:+491700000007@ims", ANSWER_HEADERS, ANSWER_BODY, SCSCF, udp, now=now)
        data_to_send()
        for i in batch:
            receive(oks[i], SCSCF, udp, now)
            response = next_event()
            assert response is not None and response.status == 200, response
        for i in batch:
            receive(answers[i], SCSCF, udp, now)
            send_response(next_event(), 200, now=now)
        data_to_send()
        poll(now)
    took = time.perf_counter() - started
    assert endpoint.counters.stray_responses == 0
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--step", type=float, default=0.002, help="seconds of the endpoint's clock per round"
    )
    parser.add_argument(
        "--mt", type=int, metavar="WINDOW", help="MT rounds, WINDOW MESSAGEs outstanding"
    )
    args = parser.parse_args()
    try:
        from smsc.sip.native import IMPLEMENTATION  # absent before step one
    except ImportError:
        IMPLEMENTATION = "python"  # noqa: N806
    print(f"implementation: {IMPLEMENTATION}")
    print(f"endpoint options: {list(inspect.signature(SipEndpoint).parameters)[-4:]}")
    if args.mt:
        best = min(run_mt(args.rounds, args.mt, args.step) for _ in range(args.repeats))
    else:
        best = min(run(args.rounds, args.step) for _ in range(args.repeats))
    print(f"{args.rounds} rounds: best {best / args.rounds * 1e6:.2f} µs per round")


if __name__ == "__main__":
    main()
