"""Differential fuzz of the SIP parser's fast case against the general path.

Every mutated request and response is given to an endpoint with the fast case (the native
one when it is built) and to one without. Neither may raise; both must send the same octets;
what the fast case takes, the general path must take with the same Call-ID, body, identities
and transaction key, and both must answer it with the same 202. Run longer than CI does:
`python -m tests.fuzz_sip_lanes --mutations 200000 --seed 7`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter

from smsc.service.bodies import sms_body
from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.events import (
    Event,
    MessageReceived,
    RequestReceived,
    ResponseReceived,
)
from tests.fuzz_codec import mutate as byte_mutation
from tests.smsc.sip.samples import MO_MESSAGE, RP_DATA_BODY

UDP = Transport.UDP
SOURCES = (("10.10.1.5", 5060), ("10.10.1.5", 41000), ("127.0.0.1", 5090))

LOADGEN_MESSAGE = (
    "MESSAGE sip:smsc@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1a2b3c4d.7.1234;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <tel:+491700000007>;tag=1a2b3c4d4d2\r\n"
    "To: <sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
    "Call-ID: lg1a2b3c4d-7-1234@127.0.0.1\r\n"
    "CSeq: 1235 MESSAGE\r\n"
    "P-Asserted-Identity: <tel:+491700000007>\r\n"
    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=0010100010000007\r\n"
    "P-Charging-Vector: icid-value=lg1a2b3c4d4d2;orig-ioi=ims.mnc001.mcc001.3gppnetwork.org\r\n"
    "Request-Disposition: no-fork\r\n"
    "Content-Type: application/vnd.3gpp.sms\r\n"
    f"Content-Length: {len(RP_DATA_BODY)}\r\n\r\n"
).encode() + RP_DATA_BODY

_SPELLINGS = (
    (b"Via: ", (b"v: ", b"via: ", b"Via : ", b"Via:", b"VIA: ")),
    (b"Call-ID: ", (b"i: ", b"call-id: ", b"Call-Id: ", b"Call-ID:  ")),
    (b"CSeq: ", (b"cseq: ", b"CSeq:", b"CSEQ: ")),
    (b"To: ", (b"t: ", b"to: ", b"To:")),
    (b"From: ", (b"f: ", b"from: ")),
    (b"Content-Length: ", (b"l: ", b"Content-Length:", b"content-length: ")),
    (b"Content-Type: ", (b"c: ", b"Content-type: ")),
    (b"P-Asserted-Identity: ", (b"p-asserted-identity: ", b"P-Asserted-Identity:")),
    (b";rport", (b";rport=5090", b";Rport", b"", b";received=10.0.0.9;rport")),
    (b";branch=", (b";Branch=", b"; branch=", b";branch=z9hG4bK")),
    (b"\r\n", (b"\n", b"\r\n ", b"\r\n\t", b"\r\r\n")),
    (b" SIP/2.0", (b" SIP/2.1", b"  SIP/2.0", b" sip/2.0")),
    (b"<tel:", (b'"A" <tel:', b"< tel:", b"<tel:+49, <tel:")),
)


def _line_mutation(rng: random.Random, data: bytes) -> bytes:
    """Swap a header spelling, repeat or drop a line, or change a number: the edits that
    move a message between the lanes."""
    choice = rng.random()
    if choice < 0.5:
        old, news = _SPELLINGS[rng.randrange(len(_SPELLINGS))]
        count = data.count(old)
        if count:
            at = -1
            for _ in range(rng.randrange(count) + 1):
                at = data.find(old, at + 1)
            return data[:at] + rng.choice(news) + data[at + len(old) :]
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if len(lines) < 2:
        return data
    index = rng.randrange(1, len(lines))
    if choice < 0.7:
        lines.insert(index, lines[rng.randrange(1, len(lines))])
    elif choice < 0.85:
        del lines[index]
    else:
        digits = [i for i, byte in enumerate(lines[index]) if 0x30 <= byte <= 0x39]
        if digits:
            line = bytearray(lines[index])
            line[rng.choice(digits)] = rng.randrange(0x30, 0x3A)
            lines[index] = bytes(line)
    return b"\r\n".join(lines) + sep + body


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = _line_mutation(rng, data) if rng.random() < 0.7 else byte_mutation(rng, data)
    return data


def endpoint_pair() -> tuple[SipEndpoint, SipEndpoint]:
    """An endpoint with the fast case and a general one that make the same tags and branches."""
    fast = SipEndpoint(local_via_host="10.0.0.1", local_port=5060)
    general = SipEndpoint(local_via_host="10.0.0.1", local_port=5060, fast_case=False)
    general._prefix = fast._prefix
    return fast, general


def check_request(data: bytes, source: tuple[str, int]) -> str:
    """'fast', 'general' or 'refused'; an AssertionError when the lanes disagree."""
    fast, general = endpoint_pair()
    fast.receive_datagram(data, source, UDP, 0.0)
    general.receive_datagram(data, source, UDP, 0.0)
    one, other = fast.next_event(), general.next_event()
    assert fast.data_to_send() == general.data_to_send()
    if other is None:
        assert one is None, "the fast case took what the general path refused"
        return "refused"
    assert isinstance(other, RequestReceived)
    assert isinstance(one, MessageReceived | RequestReceived)
    assert (one.key, one.source) == (other.key, other.source)
    if isinstance(one, RequestReceived):
        return "general"
    request = other.request
    assert request.method == "MESSAGE"
    assert one.call_id == request.call_id
    assert one.message.body == request.body
    assert list(one.message.asserted) == [n.uri.raw for n in request.p_asserted_identity]
    assert one.message.access_network_info == request.header("P-Access-Network-Info")
    assert sms_body(request.content_type, request.body) == one.message.body  # as SipFront
    fast.send_response(one, 202, now=0.0)
    general.send_response(other, 202, now=0.0)
    assert fast.data_to_send() == general.data_to_send()
    return "fast"


def _ok(branch: str) -> bytes:
    return (
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport=5060\r\n"
        "From: <sip:smsc@x>;tag=1\r\nTo: <tel:+49>;tag=2\r\nCall-ID: a@10.0.0.1\r\n"
        "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _status(event: Event | None) -> int | None:
    if isinstance(event, ResponseReceived):
        return event.status
    assert event is None, event
    return None


def check_response(rng: random.Random) -> str:
    """A response to one outstanding MESSAGE: both lanes pass on the same status, or none."""
    fast, general = endpoint_pair()
    headers = (("To", "<tel:+49>"), ("Call-ID", "a@10.0.0.1"), ("CSeq", "1 MESSAGE"))
    peer = ("10.99.0.7", 5060)
    key = fast.send_message("tel:+49", headers, b"x", peer, UDP, now=0.0, context="c")
    same = general.send_message("tel:+49", headers, b"x", peer, UDP, now=0.0, context="c")
    assert key == same
    mutated = mutate(rng, _ok(key[0]))
    fast.data_to_send()
    general.data_to_send()
    fast.receive_datagram(mutated, peer, UDP, 0.1)
    general.receive_datagram(mutated, peer, UDP, 0.1)
    one, other = _status(fast.next_event()), _status(general.next_event())
    assert one == other, (one, other)
    return "passed on" if one is not None else "dropped"


def run(mutations: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    corpus = (MO_MESSAGE, LOADGEN_MESSAGE)
    for i in range(mutations):
        data = corpus[i % 2] if i < 2 else mutate(rng, corpus[i % 2])
        try:
            outcomes[check_request(data, SOURCES[i % len(SOURCES)])] += 1
            if i % 4 == 0:
                outcomes[check_response(rng)] += 1
        except Exception:
            print(f"FAILED on {data!r}", file=sys.stderr)
            raise
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutations", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    outcomes = run(args.mutations, args.seed)
    print(", ".join(f"{name}={count}" for name, count in sorted(outcomes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
