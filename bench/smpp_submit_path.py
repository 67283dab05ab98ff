"""The CPU of one submit_sm on the event loop's path, without sockets or the database.

One process, one thread: the submit_sm decoded (smsc.smpp.codec), mapped to a stored SMS
(smsc.smpp.submit.messages_from_submit: addresses, text segmenting, SMS-SUBMIT encoding),
its row made for the SQLite writer (sqlite_message_row) and the submit_sm_resp encoded; µs per
submit, best of `--repeats` runs of `--count`. What bench/smpp.py measures over TCP is this
plus the session, the group commit, uvloop and the writer thread; this part is the one to
look at when the loop thread is what limits submit_sm_resp/s.

    python bench/smpp_submit_path.py [--count 20000] [--repeats 5] [--ucs2] [--json]

Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's smsc

from bench.figures import print_figures
from smsc.routing.numbering import DiallingPlan
from smsc.settings import NumberingSettings
from smsc.smpp.codec import decode, encode
from smsc.smpp.pdu import SubmitSm, SubmitSmResp
from smsc.smpp.submit import SubmitPolicy, messages_from_submit
from smsc.store.sqlite_writer import sqlite_message_row, sqlite_time

TEXT = "SMPP bench: your code is 123456"


def submit_octets(ucs2: bool) -> bytes:
    """The submit_sm of bench/smpp.py (MyBank to a subscriber), GSM 7-bit or UCS2."""
    return encode(
        SubmitSm(
            source_addr_ton=5,
            source_addr="MyBank",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="491710000123",
            data_coding=8 if ucs2 else 0,
            short_message=TEXT.encode("utf-16-be") if ucs2 else TEXT.encode("ascii"),
        ),
        sequence_number=5,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ucs2", action="store_true", help="data_coding 8 instead of 0")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    plan = DiallingPlan.of(NumberingSettings())
    policy = SubmitPolicy("bench", ("*",))
    octets = submit_octets(args.ucs2)

    def one() -> bytes:
        pdu = decode(octets)
        assert isinstance(pdu, SubmitSm)
        now = datetime.now(UTC)
        (message,) = messages_from_submit(pdu, policy, plan, now, reference=random.getrandbits(16))
        sqlite_message_row(message, sqlite_time(now))
        return encode(SubmitSmResp(message_id=message.submission_id), sequence_number=5)

    for _ in range(min(args.count, 2_000)):
        one()
    timings = []
    for _ in range(max(args.repeats, 1)):
        started = time.perf_counter()
        for _ in range(args.count):
            one()
        timings.append((time.perf_counter() - started) / args.count * 1e6)
    figures = {
        "us_per_submit_best": round(min(timings), 1),
        "us_per_submit_runs": [round(t, 1) for t in timings],
        "data_coding": 8 if args.ucs2 else 0,
        "machine": f"{platform.python_implementation()} {platform.python_version()}",
    }
    print_figures(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
