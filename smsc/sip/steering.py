"""Which process of `smsc serve` handles a UDP datagram when worker processes share the port.

The kernel spreads datagrams over the processes by a hash of payload octets
(smsc/transport/reuseport.py), so a retransmission reaches the process that holds its
transaction. What the hash cannot know is decided here, on the octets alone, before the
endpoint sees them (sans-IO: no sockets, no clock):

- A response belongs to the process that sent the request. Every branch a process creates
  starts with the magic cookie and its tag, ``w<index>.`` (``branch_tag``), so the top Via
  names it (RFC 3261 §8.1.1.7 leaves the rest of the branch to the sender).
- The main process (index 0) keeps what needs its state: registrations, the MT relay's
  transfers (a UE's RP-ACK / RP-ERROR), RP-SMMA, OPTIONS and everything else. Workers keep
  one kind of request: a MESSAGE whose body is an RP-DATA from the MS (TS 24.011 §8.2.2,
  RP-MTI 0), the MO short message, which they store, acknowledge and answer themselves.
"""

from __future__ import annotations

from smsc.sip.constants import MAGIC_COOKIE

MAIN = 0
"""The process that runs the HTTP API, the MT loop and the registrations."""

_RESPONSE = b"SIP/2.0 "
_MESSAGE = b"MESSAGE "
_BODY = b"\r\n\r\n"
_TAGGED_BRANCH = b"branch=" + MAGIC_COOKIE.encode() + b"w"
_RP_MTI_MASK = 0x07
_RP_DATA_MS_TO_N = 0x00
"""TS 24.011 §8.2.2: RP-MTI 000, RP-DATA in the MS to network direction."""
_MAX_INDEX_DIGITS = 3


def branch_tag(index: int) -> str:
    """What follows the magic cookie in each branch created by process ``index``."""
    return f"w{index}."


def branch_owner(datagram: bytes) -> int | None:
    """The index of the process whose branch tops the Via of a response; None if untagged.

    Only the first Via header field is read (its first value is the top Via, ours on a
    response to our request); compact form ``v:`` and any letter case are recognised.
    """
    end = datagram.find(_BODY)
    head = datagram if end < 0 else datagram[:end]
    start = 0
    while True:
        line_end = head.find(b"\n", start)
        if line_end < 0:
            return None
        start = line_end + 1
        name_end = head.find(b":", start, start + 8)
        if name_end < 0:
            continue
        name = head[start:name_end].strip().lower()
        if name in (b"via", b"v"):
            break
    stop = head.find(b"\n", start)
    line = head[start:] if stop < 0 else head[start:stop]
    comma = line.find(b",")
    if comma >= 0:
        line = line[:comma]  # the top Via is the first value of the field
    at = line.find(_TAGGED_BRANCH)
    if at < 0:
        return None
    digits_at = at + len(_TAGGED_BRANCH)
    dot = line.find(b".", digits_at, digits_at + _MAX_INDEX_DIGITS + 1)
    digits = line[digits_at:dot]
    if dot < 0 or not digits.isdigit():
        return None
    return int(digits)


def is_mo_rp_data(datagram: bytes) -> bool:
    """A MESSAGE request whose body starts with an RP-DATA (MS to network) octet."""
    if not datagram.startswith(_MESSAGE):
        return False
    end = datagram.find(_BODY)
    if end < 0 or end + len(_BODY) >= len(datagram):
        return False
    return datagram[end + len(_BODY)] & _RP_MTI_MASK == _RP_DATA_MS_TO_N


def handler_of(datagram: bytes, me: int, processes: int) -> int | None:
    """The index of the process that must handle ``datagram`` received by process ``me`` of
    ``processes``; None: ``me`` handles it."""
    if datagram.startswith(_RESPONSE):
        owner = branch_owner(datagram)
        if owner is None or owner == me or owner >= processes:
            return None
        return owner
    if me == MAIN or is_mo_rp_data(datagram):
        return None
    return MAIN
