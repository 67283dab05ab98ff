"""What the processes of one `smsc serve` say to each other: one frame per datagram of a
Unix socket pair (sans-IO: bytes in, frames out)."""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass
from typing import Any

from smsc.errors import SmscError


class FrameError(SmscError):
    """A frame from another process of this service that cannot be read."""


class FrameKind(enum.IntEnum):
    """The first octet of a frame."""

    DATAGRAM = ord("D")
    """A SIP datagram for the receiver to handle as if its UDP socket had received it."""
    WAKE = ord("W")
    """A worker stored MO for this recipient: the main process's MT loop looks now."""
    METRICS = ord("M")
    """A worker's metric samples (smsc/api/metrics.py snapshot, JSON)."""
    READY = ord("R")
    """A worker has started and joined the port."""
    CHARGE = ord("C")
    """A worker asks the main process to charge an MO (smsc/workers/charge_frames.py)."""
    CHARGED = ord("A")
    """The main process's answer to a CHARGE (smsc/workers/charge_frames.py)."""


@dataclass(frozen=True, slots=True)
class Datagram:
    """A SIP datagram and the address it came from."""

    source: tuple[str, int]
    data: bytes


@dataclass(frozen=True, slots=True)
class Wake:
    """MO stored for ``recipient``."""

    recipient: str


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """The samples of one worker's registry."""

    samples: Any


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker is serving."""


@dataclass(frozen=True, slots=True)
class Charging:
    """A CHARGE or CHARGED frame; its body is read by smsc/workers/charge_frames.py."""

    kind: FrameKind
    body: bytes


Frame = Datagram | Wake | MetricsSnapshot | Ready | Charging

_ADDRESS = struct.Struct("!BH")
"""Host length, port."""


def encode_datagram(source: tuple[str, int], data: bytes) -> bytes:
    """A DATAGRAM frame: kind, host length, port, host, the SIP octets."""
    host = source[0].encode("ascii")
    return bytes((FrameKind.DATAGRAM,)) + _ADDRESS.pack(len(host), source[1]) + host + data


def encode(frame: Frame) -> bytes:
    """Any frame as the octets of one datagram."""
    match frame:
        case Datagram(source, data):
            return encode_datagram(source, data)
        case Wake(recipient):
            return bytes((FrameKind.WAKE,)) + recipient.encode("utf-8")
        case MetricsSnapshot(samples):
            return bytes((FrameKind.METRICS,)) + json.dumps(samples).encode("utf-8")
        case Ready():
            return bytes((FrameKind.READY,))
        case Charging(kind, body):
            return bytes((kind,)) + body


def decode(octets: bytes) -> Frame:
    """One frame; FrameError if it is not one."""
    if not octets:
        raise FrameError("empty frame")
    kind, body = octets[0], octets[1:]
    try:
        if kind == FrameKind.DATAGRAM:
            length, port = _ADDRESS.unpack_from(body)
            start = _ADDRESS.size
            host = body[start : start + length]
            if len(host) != length:
                raise FrameError("datagram frame: truncated address")
            return Datagram((host.decode("ascii"), port), body[start + length :])
        if kind == FrameKind.WAKE:
            return Wake(body.decode("utf-8"))
        if kind == FrameKind.METRICS:
            return MetricsSnapshot(json.loads(body))
        if kind == FrameKind.READY and not body:
            return Ready()
        if kind in (FrameKind.CHARGE, FrameKind.CHARGED):
            return Charging(FrameKind(kind), body)
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"unreadable frame of kind {kind}: {exc}") from exc
    raise FrameError(f"unknown frame kind {kind}")
