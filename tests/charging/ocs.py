"""A test OCS on python-diameter's own Node and Application, over real TCP.

It accepts the SMSC's CER (the SMSC's Origin-Host is added with ``add_peer``, as the node
requires), answers each CCR with the configured ``Behaviour`` (result code, MSCC code, delay,
or silence) and records what it received. Answers are built with python-diameter's
``CreditControlAnswer`` by default, or from pre-encoded bytes (``fast_answers``) when a
benchmark needs the OCS to cost as little as possible.

Run standalone (benchmarks: one OCS per process):
    python -m tests.charging.ocs --port 3868 --host ocs1.ocs.example.net --fast
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from diameter.message import Message, MessageHeader
from diameter.message.avp.grouped import GrantedServiceUnit, MultipleServicesCreditControl
from diameter.node.application import Application

from charging import avp as a
from tests.charging.pd_node import DiameterNode

CLIENT_HOST = "smsc.ims.example.net"
CLIENT_REALM = "ims.example.net"
OCS_REALM = "ocs.example.net"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for the moment)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Behaviour:
    """How the OCS answers; change it while running (read per request)."""

    result_code: int = 2001
    mscc_result_code: int | None = None  # None: an MSCC with result_code
    granted_units: int | None = None  # None: the units asked for
    delay_s: float = 0.0
    silent: bool = False


@dataclass(frozen=True)
class ReceivedCcr:
    """One CCR as the OCS saw it."""

    session_id: str
    hop_by_hop: int
    end_to_end: int
    retransmitted: bool
    service_context_id: str
    access_network_information: bytes | None
    requested_units: int | None
    wire: bytes  # re-encoded by python-diameter, for a full AVP-tree check


class _Answer(Message):  # type: ignore[misc]
    """A CCA from pre-encoded bytes (the fast path)."""

    name = "Credit-Control"

    def __init__(self, data: bytes, result_code: int) -> None:
        header = MessageHeader(
            command_flags=data[4],
            command_code=272,
            application_id=4,
            hop_by_hop_identifier=int.from_bytes(data[12:16], "big"),
            end_to_end_identifier=int.from_bytes(data[16:20], "big"),
        )
        super().__init__(header)
        self.data = data
        self.result_code = result_code

    def as_bytes(self) -> bytes:
        return self.data


_session = a.octet_string(a.AvpCode.SESSION_ID)
_result = a.unsigned32(a.AvpCode.RESULT_CODE)
_mscc = a.grouped(a.AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL)
_gsu = a.grouped(a.AvpCode.GRANTED_SERVICE_UNIT)
_units = a.unsigned64(a.AvpCode.CC_SERVICE_SPECIFIC_UNITS)


class _OcsApplication(Application):  # type: ignore[misc]
    def __init__(self, ocs: TestOcs) -> None:
        super().__init__(4, is_auth_application=True)
        self.ocs = ocs
        self._fixed = b""

    def start(self) -> None:
        node = self.node
        self._fixed = (
            a.octet_string(a.AvpCode.ORIGIN_HOST)(node.origin_host.encode())
            + a.octet_string(a.AvpCode.ORIGIN_REALM)(node.realm_name.encode())
            + a.unsigned32(a.AvpCode.AUTH_APPLICATION_ID)(4)
            + a.enumerated(416)(4)
            + a.unsigned32(415)(0)
        )

    def handle_request(self, message: Any) -> None:
        """Reader thread of the OCS node: record, then answer now, later, or never."""
        ocs = self.ocs
        behaviour = ocs.behaviour
        ocs.count += 1
        if ocs.record:
            ocs.received.append(_received(message))
        if behaviour.silent:
            return
        answer = self._answer(message, behaviour)
        if behaviour.delay_s > 0:
            timer = threading.Timer(behaviour.delay_s, self._send_quietly, (answer,))
            timer.daemon = True
            timer.start()
        else:
            self._send_quietly(answer)

    def _send_quietly(self, answer: Message) -> None:
        with contextlib.suppress(Exception):  # the SMSC may have gone away meanwhile
            self.send_answer(answer)

    def _answer(self, request: Any, behaviour: Behaviour) -> Message:
        units = behaviour.granted_units
        if units is None:
            units = _requested_units(request) or 1
        mscc_code = behaviour.mscc_result_code
        code = behaviour.result_code
        if self.ocs.fast_answers:
            header = request.header
            body = (
                _session(request.session_id.encode())
                + _result(code)
                + self._fixed
                + _mscc(_gsu(_units(units)) + _result(code if mscc_code is None else mscc_code))
            )
            flags = a.CommandFlag.PROXIABLE | (a.CommandFlag.ERROR if 3000 <= code < 4000 else 0)
            data = a.encode_message(
                int(flags),
                272,
                4,
                hop_by_hop=header.hop_by_hop_identifier,
                end_to_end=header.end_to_end_identifier,
                body=body,
            )
            return _Answer(data, code)
        answer = self.generate_answer(request, result_code=code)
        answer.cc_request_type = request.cc_request_type
        answer.cc_request_number = request.cc_request_number
        answer.header.is_error = 3000 <= code < 4000
        answer.multiple_services_credit_control = [
            MultipleServicesCreditControl(
                granted_service_unit=GrantedServiceUnit(cc_service_specific_units=units),
                result_code=code if mscc_code is None else mscc_code,
            )
        ]
        return answer


def _requested_units(request: Any) -> int | None:
    for mscc in request.multiple_services_credit_control or ():
        rsu = mscc.requested_service_unit
        if rsu is not None and rsu.cc_service_specific_units is not None:
            units: int = rsu.cc_service_specific_units
            return units
    return None


def _received(request: Any) -> ReceivedCcr:
    header = request.header
    info = request.service_information
    ims = None if info is None else info.ims_information
    ani = None if ims is None else ims.access_network_information
    if isinstance(ani, list):  # python-diameter allows several
        ani = ani[0] if ani else None
    if isinstance(ani, str):
        ani = ani.encode("utf-8")
    return ReceivedCcr(
        session_id=request.session_id,
        hop_by_hop=header.hop_by_hop_identifier,
        end_to_end=header.end_to_end_identifier,
        retransmitted=header.is_retransmit,
        service_context_id=request.service_context_id,
        access_network_information=ani,
        requested_units=_requested_units(request),
        wire=request.as_bytes(),
    )


class _RecordingNode(DiameterNode):
    """The OCS node, keeping each CER it receives."""

    def __init__(self, cers: list[Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cers = cers

    def receive_cer(self, conn: Any, message: Any) -> None:
        self._cers.append(message)
        super().receive_cer(conn, message)


@dataclass
class TestOcs:
    """One OCS node listening on 127.0.0.1:port."""

    port: int = field(default_factory=free_port)
    origin_host: str = "ocs1.ocs.example.net"
    realm: str = OCS_REALM
    client_host: str = CLIENT_HOST
    client_realm: str = CLIENT_REALM
    behaviour: Behaviour = field(default_factory=Behaviour)
    fast_answers: bool = False
    record: bool = True
    received: list[ReceivedCcr] = field(default_factory=list)
    cers: list[Any] = field(default_factory=list)
    """Every CER received, as python-diameter decoded it."""
    count: int = 0
    node: DiameterNode | None = None

    __test__ = False  # not a pytest class

    def start(self) -> TestOcs:
        node = _RecordingNode(
            self.cers, self.origin_host, self.realm, ip_addresses=["127.0.0.1"], tcp_port=self.port
        )
        node.wakeup_interval = 0.2
        node.validate_received_request_avps = False
        peer = node.add_peer(f"aaa://{self.client_host}", self.client_realm)
        node.add_application(_OcsApplication(self), [peer], realms=[self.realm])
        node.start()
        self.node = node
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """graceful: DPR to the SMSC first; otherwise just close (a crash, as seen by TCP)."""
        node, self.node = self.node, None
        if node is None:
            return
        if graceful:
            node.disconnect_peers()
            deadline = time.monotonic() + 1.0
            while node.connections and time.monotonic() < deadline:
                time.sleep(0.005)
        node.shutdown(5.0)

    def connected(self) -> bool:
        node = self.node
        return node is not None and any(
            c.state in (0x12, 0x13) for c in list(node.connections.values())
        )


def main() -> None:
    """Serve until SIGTERM/SIGINT; print one ``ready PORT`` line once listening."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3868)
    parser.add_argument("--host", default="ocs1.ocs.example.net")
    parser.add_argument("--fast", action="store_true", help="pre-encoded CCAs")
    args = parser.parse_args()
    ocs = TestOcs(port=args.port, origin_host=args.host, fast_answers=args.fast, record=False)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ocs.start()
    print(f"ready {args.port}", flush=True)
    while not stopping.wait(0.5):
        pass
    print(f"answered {ocs.count}", file=sys.stderr, flush=True)
    ocs.stop()


if __name__ == "__main__":
    main()
