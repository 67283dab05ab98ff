"""One UDP port shared by the processes of `smsc serve` (Linux SO_REUSEPORT), steered by payload.

Each process opens its own socket with ``open_shared_udp`` on the same address; the kernel
groups the sockets (SO_REUSEPORT) and, for every datagram, runs a classic BPF program attached
to the group (SO_ATTACH_REUSEPORT_CBPF) whose return value is the index of the socket that
gets it. The kernel's own choice, a hash of the source and destination address and port,
would send all the traffic of one S-CSCF, which talks from one socket, to one process; the
program hashes payload octets instead:

- Window: the 32-bit words at offsets 64 to 319 of the UDP payload. The first 64 octets of a
  request are its request line (the same on every MO MESSAGE: the SMSC's PSI) and the start
  of the top Via, so they carry nothing that differs from one message to the next. From 64
  on come the rest of the top Via with its branch (unique per transaction, RFC 3261
  §8.1.1.7), then From tag, Call-ID and CSeq. The window ends at 320, not 132 as the first
  bench had it: the branch of an S-CSCF with an IPv6 address starts past octet 120, so a
  short window sees only the magic cookie of each message and leaves all of them to one
  socket; a long one also takes in the Call-ID.
- Hash: h = (h XOR word) * 0x9E3779B1 word by word, modulo 2**32; the socket is the upper
  16 bits of h times ``group_size``, shifted right by 16 (a range reduction that reads the
  best-mixed bits, which every bit of every word reaches). The bench's plain XOR of the
  words modulo ``group_size`` lets a token that recurs in the window (a counter in both
  branch and Call-ID) cancel itself, and modulo a power of two reads only the low bits of
  every fourth octet.

  Measured over loopback, 2000 MESSAGEs per sender (loadgen-like; S-CSCF-like with random
  branch, tag and Call-ID and an IPv4, IPv6 or long IPv6 top Via host; counter-like, whose
  branch and Call-ID carry the message number), share of each socket in %: this program
  gave 49-51 on 2 sockets, 31-35 on 3 and 24-27 on 4 for every sender. The bench's XOR over
  64..131 put the long-IPv6 sender all on one socket and gave 72/28 and 61/11/11/17 for
  the counter-like one; the same XOR over 64..319 still gave 25/75 and 13/63/12/12.
- Words past the end of the datagram are left out: each load is guarded by the length, so a
  datagram shorter than the window is hashed on what it has instead of failing the program.
  One shorter than 68 octets has no word at all and goes to socket 0, on purpose: CR LF
  keep-alives (RFC 5626 §4.4.1) and other short datagrams reach the main process. (A
  classic BPF load past the end of the packet would end the program with return 0, also
  socket 0; the guards make that path unused.)

What it guarantees: the same octets always reach the same socket, so a retransmission
reaches the process that holds its transaction, while the group does not change. Its limits:

- Socket index is the order of joining: socket 0 is the first bound, the main process,
  which must bind before the workers. When a socket closes the kernel moves the last one
  into its place, so a worker that dies and comes back can swap indexes with another; a
  retransmission in flight then reaches a process that has not seen the original.
- ``group_size`` is the number of sockets the hash divides among and must be the number of
  processes that will join. While fewer are in the group (workers still starting, or one
  restarting), a datagram whose index is past the last falls back to the kernel's address
  hash among those present; a socket past ``group_size`` gets nothing.
- Steering reads octets only. A response to a request belongs to the process that sent the
  request, and the hash cannot know which; smsc/sip/steering.py passes such datagrams on.
- All sockets of a group must be opened by the same effective user (kernel rule), and the
  program is the group's: each ``open_shared_udp`` with ``group_size`` > 1 re-attaches the
  same program, so every member must use the same ``group_size``.
- Cost: six classic BPF instructions per word, 390 in all, run by the kernel once per
  datagram (converted to eBPF, JIT-compiled where enabled): a fraction of a microsecond,
  small beside the parsing of a MESSAGE.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys

from smsc.errors import SmscError

SO_ATTACH_REUSEPORT_CBPF = 51
"""setsockopt(SOL_SOCKET) option number, include/uapi/asm-generic/socket.h (Linux 4.5+; the
same on every architecture that uses the generic numbers, x86 and arm64 among them)."""

WINDOW_START = 64
"""First payload octet hashed; a datagram shorter than WINDOW_START + 4 goes to socket 0."""
WINDOW_END = 320
"""First payload octet past the hashed window."""

MAX_GROUP_SIZE = 0xFFFF
"""The range reduction multiplies 16 bits by ``group_size`` in 32."""

_MULTIPLIER = 0x9E3779B1
"""2**32 divided by the golden ratio, odd: Knuth's multiplicative hashing constant."""

# Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = payload[k:k+4], big-endian
_LD_W_LEN = 0x80  # BPF_LD | BPF_W | BPF_LEN: A = datagram length
_LDX_IMM = 0x01  # BPF_LDX | BPF_W | BPF_IMM: X = k
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K: pc += (jt if A >= k else jf)
_XOR_X = 0xAC  # BPF_ALU | BPF_XOR | BPF_X: A ^= X
_MUL_K = 0x24  # BPF_ALU | BPF_MUL | BPF_K: A *= k (modulo 2**32)
_RSH_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K: A >>= k
_TAX = 0x07  # BPF_MISC | BPF_TAX: X = A
_TXA = 0x87  # BPF_MISC | BPF_TXA: A = X
_RET_A = 0x16  # BPF_RET | BPF_A: return A

_Instruction = tuple[int, int, int, int]
"""struct sock_filter: code, jt, jf, k."""


class ReusePortUnavailable(SmscError):  # noqa: N818 (the name its callers use, like StoreUnavailable)
    """This system cannot share a UDP port: no SO_REUSEPORT, or no payload steering for it."""


def _check_group_size(group_size: int) -> None:
    if not 1 <= group_size <= MAX_GROUP_SIZE:
        raise ValueError(f"group_size {group_size}: must be 1 to {MAX_GROUP_SIZE}")


def _program(group_size: int) -> list[_Instruction]:
    """The steering program: socket index from a hash of the window's words."""
    program: list[_Instruction] = [(_LDX_IMM, 0, 0, 0)]  # X: the hash
    for offset in range(WINDOW_START, WINDOW_END, 4):
        program += [
            (_LD_W_LEN, 0, 0, 0),
            (_JGE_K, 0, 4, offset + 4),  # past the end: skip the 4 below (and fail the rest)
            (_LD_W_ABS, 0, 0, offset),
            (_XOR_X, 0, 0, 0),
            (_MUL_K, 0, 0, _MULTIPLIER),
            (_TAX, 0, 0, 0),
        ]
    program += [
        (_TXA, 0, 0, 0),
        (_RSH_K, 0, 0, 16),
        (_MUL_K, 0, 0, group_size),  # below 2**16 * group_size: no overflow
        (_RSH_K, 0, 0, 16),  # so below group_size
        (_RET_A, 0, 0, 0),
    ]
    return program


def steer_by_payload(sock: socket.socket, group_size: int) -> None:
    """Attach the payload-hash program to the SO_REUSEPORT group of ``sock`` (bound or not).

    ReusePortUnavailable when the kernel refuses it (no SO_ATTACH_REUSEPORT_CBPF)."""
    _check_group_size(group_size)
    program = _program(group_size)
    filters = ctypes.create_string_buffer(
        b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    )
    fprog = struct.pack("HP", len(program), ctypes.addressof(filters))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError as exc:
        raise ReusePortUnavailable(
            f"SO_ATTACH_REUSEPORT_CBPF refused: {exc.strerror or exc}"
        ) from exc


def open_shared_udp(host: str, port: int, group_size: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``host``:``port`` with SO_REUSEPORT, one of
    ``group_size`` that share the port, with datagrams steered by payload when over 1.

    The address is the first that getaddrinfo gives for ``host`` (AI_PASSIVE: an empty host
    is the wildcard). OSError from bind (the port held by a socket without SO_REUSEPORT, or
    by another user) propagates; ReusePortUnavailable where the system lacks SO_REUSEPORT or
    SO_ATTACH_REUSEPORT_CBPF."""
    _check_group_size(group_size)
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    if sys.platform != "linux" or not isinstance(reuse_port, int):
        raise ReusePortUnavailable(f"SO_REUSEPORT steering needs Linux, not {sys.platform}")
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
        except OSError as exc:
            raise ReusePortUnavailable(f"SO_REUSEPORT refused: {exc.strerror or exc}") from exc
        sock.setblocking(False)
        sock.bind(address)
        if group_size > 1:
            steer_by_payload(sock, group_size)
    except BaseException:
        sock.close()
        raise
    return sock
