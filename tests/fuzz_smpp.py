"""Fuzz the SMPP codec and the SMSC session with truncated, mutated and length-tampered PDUs.

decode may only raise PduError (never its safety net); what decodes re-encodes to octets that
decode the same; the session never raises, writes only PDUs that decode, and answers or hands
on every request. Run longer than CI does: `python -m tests.fuzz_smpp --mutations 200000`.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
from collections import Counter
from collections.abc import Iterator

from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode
from smsc.smpp.errors import PduError
from smsc.smpp.events import BindRequested, RequestReceived
from smsc.smpp.framing import PduFramer
from smsc.smpp.session import SessionState, SessionTimers, SmppSession
from tests.smsc.smpp.samples import VECTORS


def corpus() -> list[bytes]:
    return [octets for _, octets, _ in VECTORS]


def with_length(octets: bytes, length: int | None = None) -> bytes:
    """``octets`` with command_length set to ``length`` (default: their own length)."""
    if len(octets) < 4:
        return octets
    return struct.pack(">I", len(octets) if length is None else length) + octets[4:]


def truncations(octets: bytes) -> Iterator[bytes]:
    for end in range(len(octets)):
        yield with_length(octets[:end])


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.4 and buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif choice < 0.7 and buf:
            buf[rng.randrange(len(buf))] = rng.choice((0, 0xFF, rng.randrange(256)))
        elif choice < 0.85:
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
        elif buf:
            del buf[rng.randrange(len(buf))]
    mutated = bytes(buf)
    # mostly keep the framing right so the body is what is fuzzed; sometimes tamper with it
    return with_length(mutated) if rng.random() < 0.8 else mutated


def check_decode(octets: bytes) -> str:
    """Decode; 'valid' or 'rejected'. Anything else escapes as an exception."""
    try:
        pdu = decode(octets)
    except PduError as exc:
        assert exc.__cause__ is None, f"decode's safety net caught {exc.__cause__!r}"
        assert 0 < exc.command_status <= 0xFFFFFFFF, exc
        return "rejected"
    again = encode(pdu)
    assert encode(decode(again)) == again
    return "valid"


class SessionDriver:
    """A bound transceiver session fed PDU by PDU; the application accepts and answers all."""

    def __init__(self) -> None:
        self.now = 0.0
        self.session = self.connect()

    def connect(self) -> SmppSession:
        """A new connection, bound."""
        session = SmppSession(SessionTimers(), window=4, now=self.now)
        bind = encode(p.BindTransceiver(system_id="fuzz", sequence_number=1))
        (event,) = session.receive_data(bind, self.now)
        assert isinstance(event, BindRequested)
        session.accept_bind(event, "SMSC")
        session.data_to_send()
        return session

    def feed(self, octets: bytes) -> None:
        self.now += 0.5
        session = self.session
        for event in session.receive_data(octets, self.now):
            if isinstance(event, BindRequested):
                session.accept_bind(event, "SMSC")
            elif isinstance(event, RequestReceived):
                session.respond(event, p.GenericNack(8))
        session.on_timer(self.now)
        for answer in PduFramer().feed(session.data_to_send()):
            decode(answer)  # whatever the session writes must decode
        if session.state is SessionState.CLOSED:
            self.session = self.connect()


def bodies(mutations: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    vectors = corpus()
    for octets in vectors:
        yield octets
        yield from truncations(octets)
    for i in range(mutations):
        yield mutate(rng, vectors[i % len(vectors)])


def run(mutations: int, seed: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    driver = SessionDriver()
    for octets in bodies(mutations, seed):
        try:
            outcomes[check_decode(octets)] += 1
            driver.feed(octets)
        except Exception:
            print(f"FAILED on {octets.hex()}", file=sys.stderr)
            raise
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    outcomes = run(args.mutations, args.seed)
    print(f"valid={outcomes['valid']} rejected={outcomes['rejected']} (no other outcome)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
