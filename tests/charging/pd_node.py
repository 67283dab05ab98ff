"""python-diameter's threaded node (0.9) made fit to run the test OCS inside a test process.

0.9.0 leaves a connection's threads running when a connect fails at once, keeps a statistics
thread sleeping for a minute, and its select loop sleeps up to ``wakeup_interval`` before it
sees a stop; tests start and stop many nodes, so this subclass ends all of that promptly.
The SMSC itself does not use python-diameter's node (charging/diameter/ is its own peer).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from diameter.message import Message
from diameter.node import Node
from diameter.node.peer import DISCONNECT_REASON_UNKNOWN, PEER_CLOSED, PEER_READY_STATES

_WAKE_SELECT = b"\xff" * 6  # not a connection id: the select loop reads it and moves on
_POKE_INTERVAL_S = 0.01


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
    """python-diameter's Node with a prompt, complete shutdown."""

    def __init__(
        self,
        origin_host: str,
        realm_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(origin_host, realm_name, **kwargs)
        self._retired: list[Any] = []  # dropped connections whose threads may still be running
        # The node's own threads must never keep the process alive (a failed start, a crash).
        self._connection_thread.daemon = True
        self._stat_collect_thread.daemon = True

    def _collect_stats(self, _thread: Any) -> None:
        """Keep no minute snapshots (the client has its own metrics): the thread ends at once."""

    def remove_peer_connection(
        self, conn: Any, disconnect_reason: int = DISCONNECT_REASON_UNKNOWN
    ) -> None:
        """Forget a connection and end its threads (runs on a node thread)."""
        super().remove_peer_connection(conn, disconnect_reason)
        if conn.state != PEER_CLOSED:
            conn.close(signal_node=False)  # 0.9.0 skips this when connect() fails at once
        _wake(conn)
        self._retired = [c for c in self._retired if any(t.is_alive() for t in _threads(c))]
        self._retired.append(conn)

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
