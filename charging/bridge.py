"""python-diameter's threaded node (version 0.9.0), adapted for an asyncio caller.

The node keeps the peer state machine (CER/CEA, DWR/DWA, DPR/DPA, reconnect); this module adds
what an asyncio client needs around it, without patching the library:

* ``DiameterNode`` sends our identity in its CER (Vendor-Id, Product-Name, Firmware-Revision,
  Supported-Vendor-Id 10415), reports lost connections, ends the threads of connections it
  drops (0.9.0 leaves them running when a connect fails at once) and stops in milliseconds
  instead of the seconds its sleeping statistics thread and select timeout would take;
* ``EncodedRequest`` lets the node route and send bytes we encoded ourselves (charging/ccr.py);
* ``cca_result`` reads python-diameter's parsed answer into our ``CcaResult``;
* ``AnswerInbox`` hands answers from the node's reader threads to the event loop, one
  ``call_soon_threadsafe`` per burst rather than per answer.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from diameter.message import Message, MessageHeader  # type: ignore[import-untyped]
from diameter.message.commands import CapabilitiesExchangeRequest  # type: ignore[import-untyped]
from diameter.node import Node  # type: ignore[import-untyped]
from diameter.node.peer import (  # type: ignore[import-untyped]
    DISCONNECT_REASON_UNKNOWN,
    PEER_CLOSED,
    PEER_READY_STATES,
)

from charging.avp import CcaResult, CommandCode, decode_cca

__all__ = [
    "PEER_READY_STATES",
    "AnswerInbox",
    "DiameterNode",
    "EncodedRequest",
    "cca_result",
    "message_id",
]

_WAKE_SELECT = b"\xff" * 6  # not a connection id: the select loop reads it and moves on
_POKE_INTERVAL_S = 0.01


def message_id(hop_by_hop: int, end_to_end: int) -> str:
    """The key python-diameter uses in its waiting-answer tables."""
    return f"{hop_by_hop}:{end_to_end}"


class _Nothing(Message):  # type: ignore[misc]
    """An empty outgoing item that wakes a connection's writer thread so it can see its stop."""

    def as_bytes(self) -> bytes:
        return b""


def _threads(conn: Any) -> list[threading.Thread]:
    """The reader and writer threads of a PeerConnection (private in 0.9.0; [] if renamed)."""
    found = (getattr(conn, "_read_thread", None), getattr(conn, "_write_thread", None))
    return [t for t in found if isinstance(t, threading.Thread)]


def _wake(conn: Any) -> None:
    """Unblock both queue waits of a closed connection so its threads exit now, not in 5 s."""
    conn.add_in_bytes(b"")
    conn.add_out_msg(_Nothing())


class DiameterNode(Node):  # type: ignore[misc]
    """python-diameter's Node with a connection-lost hook and a prompt, complete shutdown."""

    def __init__(
        self,
        origin_host: str,
        realm_name: str,
        *,
        on_connection_lost: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(origin_host, realm_name, **kwargs)
        self.on_connection_lost = on_connection_lost
        self._retired: list[Any] = []  # dropped connections whose threads may still be running
        # The node's own threads must never keep the process alive (a failed start, a crash).
        self._connection_thread.daemon = True
        self._stat_collect_thread.daemon = True

    firmware_revision: int | None = None
    """Firmware-Revision of our CER (RFC 6733 §5.3.1); None leaves the AVP out."""

    def send_cer(self, conn: Any) -> None:
        """RFC 6733 §5.3.1 CER with our identity: 0.9.0 sends neither Supported-Vendor-Id nor
        Firmware-Revision; Vendor-Id and Product-Name come from ``vendor_id``/``product_name``."""
        message = CapabilitiesExchangeRequest()
        message.header.hop_by_hop_identifier = conn.hop_by_hop_seq.next_sequence()
        message.header.end_to_end_identifier = self.end_to_end_seq.next_sequence()
        message.origin_host = self.origin_host.encode()
        message.origin_realm = self.realm_name.encode()
        message.host_ip_address = conn.host_ip_address
        message.vendor_id = self.vendor_id
        message.product_name = self.product_name
        message.origin_state_id = self.state_id
        message.supported_vendor_id = sorted(self.vendor_ids)
        message.auth_application_id = sorted(self.auth_application_ids)
        message.acct_application_id = sorted(self.acct_application_ids)
        if self.firmware_revision is not None:
            message.firmware_revision = self.firmware_revision
        self.send_message(conn, message)

    def _collect_stats(self, _thread: Any) -> None:
        """Keep no minute snapshots (the client has its own metrics): the thread ends at once."""

    def remove_peer_connection(
        self, conn: Any, disconnect_reason: int = DISCONNECT_REASON_UNKNOWN
    ) -> None:
        """Forget a connection, end its threads, tell the owner (runs on a node thread)."""
        super().remove_peer_connection(conn, disconnect_reason)
        if conn.state != PEER_CLOSED:
            conn.close(signal_node=False)  # 0.9.0 skips this when connect() fails at once
        _wake(conn)
        self._retired = [c for c in self._retired if any(t.is_alive() for t in _threads(c))]
        self._retired.append(conn)
        if self.on_connection_lost is not None:
            self.on_connection_lost(conn.ident)

    def disconnect_peers(self) -> None:
        """Stop reconnecting and send DPR on every ready connection (RFC 6733 §5.4)."""
        for peer in self.peers.values():
            peer.persistent = False
        for conn in list(self.connections.values()):
            if conn.state in PEER_READY_STATES:
                self.send_dpr(conn)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Blocking: close every socket, join every thread the node started; True if all ended.

        Call after ``disconnect_peers`` has had its answers (or not). Runs ``Node.stop(force=True)``
        in a helper thread while waking the select loop, which would otherwise sleep for up to
        ``wakeup_interval`` before seeing the stop.
        """
        deadline = time.monotonic() + timeout
        force = bool(self.connections)  # without connections left, stop() neither waits nor warns
        stopper = threading.Thread(
            target=self.stop, kwargs={"force": force}, name="diameter-node-stop"
        )
        stopper.start()
        while stopper.is_alive() and time.monotonic() < deadline:
            try:
                os.write(self.interrupt_write, _WAKE_SELECT)
            except OSError:
                break
            stopper.join(_POKE_INTERVAL_S)
        stopper.join(max(0.0, deadline - time.monotonic()))
        threads = [t for conn in self._retired for t in _threads(conn)]
        threads += [t for conn in list(self.connections.values()) for t in _threads(conn)]
        for conn in list(self.connections.values()):
            _wake(conn)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        done = not stopper.is_alive() and not any(t.is_alive() for t in threads)
        if done:
            self._retired.clear()
        # The interrupt pipe is left open on purpose: a connection object that outlives the
        # node may still write to it, and a closed descriptor number is soon reused by another
        # socket (a second node's), which such a write would then corrupt.
        return done


class EncodedRequest(Message):  # type: ignore[misc]
    """A request already encoded by us; the node assigns the hop-by-hop id when it routes it.

    ``Node.route_request`` reads the header and ``destination_realm`` and sets the hop-by-hop
    identifier; ``set_hop_by_hop`` then writes that identifier into our bytes, which the
    connection's writer thread takes from ``as_bytes``. ``avoid`` names a peer the selection
    must skip (the one a retransmission fails over from).
    """

    code = CommandCode.CREDIT_CONTROL
    name = "Credit-Control"

    def __init__(self, data: bytes, destination_realm: bytes, avoid: str | None = None) -> None:
        header = MessageHeader(
            length=len(data),
            command_flags=data[4],
            command_code=int.from_bytes(data[5:8], "big"),
            application_id=int.from_bytes(data[8:12], "big"),
            end_to_end_identifier=int.from_bytes(data[16:20], "big"),
        )
        super().__init__(header)
        self.data = data
        self.destination_realm = destination_realm
        self.avoid = avoid

    def set_hop_by_hop(self, hop_by_hop: int) -> None:
        """Put the routed hop-by-hop identifier into the encoded header (RFC 6733 §3)."""
        self.header.hop_by_hop_identifier = hop_by_hop
        self.data = self.data[:12] + hop_by_hop.to_bytes(4, "big") + self.data[16:]

    def as_bytes(self) -> bytes:
        return self.data


def cca_result(message: Any) -> CcaResult:
    """Our ``CcaResult`` from python-diameter's parsed Credit-Control-Answer.

    The node parses every message into a typed class and drops the received bytes, so the
    fields are read from its attributes. An answer without Result-Code (Experimental-Result
    only, or not a CCA at all) is re-encoded and read by ``decode_cca``, which raises
    ``CcaDecodeError`` for anything malformed.
    """
    header = message.header
    result_code = getattr(message, "result_code", None)
    if not isinstance(result_code, int):
        return decode_cca(message.as_bytes())
    codes: list[int] = []
    granted: int | None = None
    for mscc in getattr(message, "multiple_services_credit_control", None) or ():
        if isinstance(mscc.result_code, int):
            codes.append(mscc.result_code)
        gsu = mscc.granted_service_unit
        if granted is None and gsu is not None:
            granted = gsu.cc_service_specific_units
    if granted is None:
        gsu = getattr(message, "granted_service_unit", None)
        granted = None if gsu is None else gsu.cc_service_specific_units
    session_id = message.session_id
    return CcaResult(
        result_code=result_code,
        experimental=None,
        mscc_result_codes=tuple(codes),
        granted_units=granted if isinstance(granted, int) else None,
        session_id=session_id if isinstance(session_id, str) else None,
        hop_by_hop=header.hop_by_hop_identifier,
        end_to_end=header.end_to_end_identifier,
        error_bit=bool(header.is_error),
    )


_Item = TypeVar("_Item")


class AnswerInbox(Generic[_Item]):
    """Items from any thread, handed to ``deliver`` on the event loop in batches.

    A thread appends, then schedules a drain only if none is pending; the drain clears the flag
    before taking items, so an item appended while a drain is scheduled is always taken by it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[_Item], None]) -> None:
        self._loop = loop
        self._deliver = deliver
        self._items: deque[_Item] = deque()
        self._scheduled = False

    def put(self, item: _Item) -> None:
        """Thread-safe; never blocks."""
        self._items.append(item)
        if not self._scheduled:
            self._scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                self._scheduled = False

    def _drain(self) -> None:
        self._scheduled = False
        items, deliver = self._items, self._deliver
        while items:
            deliver(items.popleft())
