"""Memory the SIP endpoint holds per transaction after the MO's wire work is done.

A server transaction stays Completed for Timer J (64*T1 = 32 s over UDP) after its 202, and
the client transaction of the RP-ACK MESSAGE stays Completed for Timer K (T4 = 5 s) after the
S-CSCF's 200; at N MO/s the endpoint holds 32*N of the first and 5*N of the second. This
counts the bytes each costs (tracemalloc, everything the endpoint allocated and still holds,
its timer queues included) for the load generator's MESSAGE.

Run from the repository root after `pip install -e .`: ``python bench/sip_memory.py [--count N]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's smsc and tests

from bench.sip_round import ANSWER_BODY, ANSWER_HEADERS, SCSCF, _messages, _ok_for
from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint

UDP = Transport.UDP


def per_transaction(count: int) -> tuple[float, float]:
    """(bytes per Completed server transaction, bytes per Completed client transaction)."""
    messages = _messages(count)
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=5060)
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    for data in messages:  # each MESSAGE in, its 202 out: Completed for Timer J
        endpoint.receive_datagram(data, SCSCF, UDP, 1.0)
        event = endpoint.next_event()
        assert event is not None
        endpoint.send_response(event, 202, now=1.0)
        endpoint.data_to_send()
    del messages, event, data
    gc.collect()
    servers = tracemalloc.take_snapshot()
    oks = []
    for _ in range(count):  # each RP-ACK MESSAGE out, and the 200 made for it beforehand
        endpoint.send_message(
            "sip:+491700000007@ims", ANSWER_HEADERS, ANSWER_BODY, SCSCF, UDP, now=1.0
        )
        (out,) = endpoint.data_to_send()
        oks.append(_ok_for(out.data))
    del out
    for ok in oks:  # the 200s in: Completed for Timer K
        endpoint.receive_datagram(ok, SCSCF, UDP, 1.0)
        assert endpoint.next_event() is not None
    del oks, ok
    gc.collect()
    clients = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert endpoint.counters.stray_responses == 0
    server_bytes = sum(stat.size_diff for stat in servers.compare_to(start, "filename"))
    client_bytes = sum(stat.size_diff for stat in clients.compare_to(servers, "filename"))
    return server_bytes / count, client_bytes / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    server, client = per_transaction(args.count)
    print(f"Completed server transaction (Timer J): {server:.0f} bytes")
    print(f"Completed client transaction (Timer K): {client:.0f} bytes")


if __name__ == "__main__":
    main()
