"""Writes the seed corpus of scan_fuzzer.c (tests/fuzz_native/corpus/) from the repository's SIP
samples and the load generator's MESSAGE: `python -m tests.fuzz_native.make_corpus`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fuzz_sip_lanes import LOADGEN_MESSAGE
from tests.smsc.sip.samples import MO_MESSAGE, MO_MESSAGE_COMPACT, OK_200, RP_DATA_BODY

CORPUS = Path(__file__).resolve().parent / "corpus"

LOADGEN_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK.Sx8a1c.0;rport=5060;received=10.0.0.1\r\n"
    b"From: <sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>;tag=s1\r\n"
    b"To: <tel:+491700000007>;tag=lg1a2b3c4d\r\n"
    b"Call-ID: s1-42@10.0.0.1\r\n"
    b"CSeq: 1 MESSAGE\r\n"
    b"Content-Length: 0\r\n\r\n"
)
"""The load generator's 200 to the SMSC's MESSAGE (bench/loadgen/sms_loadgen.c, reply())."""


def seeds() -> dict[str, bytes]:
    """Each seed by name: requests and responses in the common shape and just beside it."""
    ok = OK_200.format(via="10.10.1.5:5060;branch=z9hG4bK-74bf9;rport=5060", call_id="a@b")
    mo_pai_list = LOADGEN_MESSAGE.replace(
        b"<tel:+491700000007>", b"<sip:+491700000007@ims.example.net>, <tel:+49>, <urn:x>"
    )
    many_params = LOADGEN_MESSAGE.replace(b";rport", b"".join(b";p%d=1" for i in range(20)))
    return {
        "mo_message": MO_MESSAGE,
        "mo_message_compact": MO_MESSAGE_COMPACT,
        "loadgen_message": LOADGEN_MESSAGE,
        "loadgen_message_pai_list": mo_pai_list,
        "loadgen_message_many_via_params": many_params,
        "loadgen_message_padded_length": LOADGEN_MESSAGE.replace(
            b"Content-Length: %d" % len(RP_DATA_BODY), b"Content-Length: 000%d" % len(RP_DATA_BODY)
        ),
        "ue_200": ok.encode(),
        "loadgen_200": LOADGEN_200,
        "trying_100": LOADGEN_200.replace(b"200 OK", b"100 Trying"),
    }


def main() -> None:
    """Write every seed as corpus/<name>."""
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes, sha1 {hashlib.sha1(data).hexdigest()[:12]}")


if __name__ == "__main__":
    main()
