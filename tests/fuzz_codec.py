"""Fuzz the SMS codec with truncations and random mutations of every vector.

Run longer than CI does: `python -m tests.fuzz_codec --mutations 200000 --seed 7`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Iterator

from smsc.sms.describe import describe_rp, describe_tpdu
from smsc.sms.errors import DecodeError
from smsc.sms.rp import RpData, RpSmma, decode_rp, encode_rp
from smsc.sms.tp import decode_tpdu, encode_tpdu
from tests.vectors import load_vectors


def corpus() -> list[bytes]:
    return [bytes.fromhex(v["hex"]) for v in load_vectors()]


def truncations(body: bytes) -> Iterator[bytes]:
    for end in range(len(body)):
        yield body[:end]


def _rewrap(body: bytes, tpdu: bytes) -> bytes:
    """Put a mutated TPDU back into the RP-DATA envelope, its length fixed up."""
    message = decode_rp(body)
    assert isinstance(message, RpData)
    header = encode_rp(message)[: -len(message.user_data) - 1]
    return header + bytes((min(len(tpdu), 255),)) + tpdu[:255]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.4 and buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif choice < 0.7 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice < 0.85:
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
        elif buf:
            del buf[rng.randrange(len(buf))]
    return bytes(buf)


def check(body: bytes) -> str:
    """Decode `body`; return 'valid' or 'rejected'. Anything else escapes as an exception."""
    try:
        message = decode_rp(body)
        describe_rp(message)
        tpdu_bytes = None if isinstance(message, RpSmma) else message.user_data
        if tpdu_bytes is None:
            return "valid"
        tpdu = decode_tpdu(tpdu_bytes, message.message_type)
    except DecodeError as exc:
        assert 1 <= exc.rp_cause <= 127, exc
        return "rejected"
    describe_tpdu(tpdu)
    # What decodes must re-encode to something that decodes the same.
    assert decode_rp(encode_rp(message)) == message
    assert decode_tpdu(encode_tpdu(tpdu), message.message_type) == tpdu
    return "valid"


def bodies(mutations: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    vectors = corpus()
    for body in vectors:
        yield body
        yield from truncations(body)
    rp_data = [b for b in vectors if b and b[0] in (0, 1) and _decodes(b)]
    for i in range(mutations):
        body = vectors[i % len(vectors)]
        if i % 2 and rp_data:
            carrier = rp_data[i % len(rp_data)]
            message = decode_rp(carrier)
            assert isinstance(message, RpData)
            yield _rewrap(carrier, mutate(rng, message.user_data))
        else:
            yield mutate(rng, body)


def _decodes(body: bytes) -> bool:
    try:
        decode_rp(body)
    except DecodeError:
        return False
    return True


def run(mutations: int, seed: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for body in bodies(mutations, seed):
        try:
            outcomes[check(body)] += 1
        except Exception:
            print(f"FAILED on {body.hex()}", file=sys.stderr)
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
