"""Play the S-CSCF once: send an MO SMS over UDP, expect 202, then the RP-ACK MESSAGE; answer it.

Standalone on purpose (standard library only): it checks an installed `smsc serve` from the
outside. Exit status 0 when the RP-ACK for our RP-MR arrived, 1 otherwise."""

from __future__ import annotations

import argparse
import socket
import sys

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
UE = "tel:+491710000001"
RP_MR = 0x2A
# RP-DATA MS->N, RP-MR 0x2A, RP-DA +33689004000, SMS-SUBMIT to +4917100000002 'Test'
BODY = bytes.fromhex("002a0007913386094000f01201000d91947101000000f2000004d4f29c0e")
RP_ACK_N_TO_MS = 3


def message(port: int) -> bytes:
    lines = [
        f"MESSAGE {PSI} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-smoke-1;rport",
        "Max-Forwards: 69",
        f"From: <{UE}>;tag=smoke",
        f"To: <{PSI}>",
        "Call-ID: smoke-1@ci",
        "CSeq: 1 MESSAGE",
        f"P-Asserted-Identity: <{UE}>",
        'P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="262011234567890a"',
        "Content-Type: application/vnd.3gpp.sms",
        f"Content-Length: {len(BODY)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY


def answer(request: bytes) -> bytes:
    head = request.partition(b"\r\n\r\n")[0].decode()
    kept = [
        line
        for line in head.split("\r\n")[1:]
        if line.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq")
    ]
    to = next(line for line in head.split("\r\n") if line.lower().startswith("to:"))
    lines = ["SIP/2.0 200 OK", *kept, f"{to};tag=ue-smoke", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5060)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(args.timeout)
        sock.sendto(message(sock.getsockname()[1]), (args.host, args.port))
        got_202 = False
        while True:
            try:
                data, source = sock.recvfrom(65535)
            except TimeoutError:
                print(f"no answer in time (202 seen: {got_202})", file=sys.stderr)
                return 1
            start = data.split(b"\r\n", 1)[0].decode()
            print("<", start)
            if start.startswith("SIP/2.0 202"):
                got_202 = True
            elif start.startswith("MESSAGE "):
                sock.sendto(answer(data), source)
                body = data.partition(b"\r\n\r\n")[2]
                ok = got_202 and body[0] & 0x07 == RP_ACK_N_TO_MS and body[1] == RP_MR
                print("RP-ACK for our RP-MR" if ok else f"unexpected RP message {body.hex()}")
                return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
