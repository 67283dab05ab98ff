"""A real freeDiameter daemon (Debian's ``freediameterd``) as a Diameter relay for the tests.

``freediameter_relay(tmp_path, ocs_port=..., ocs_host=..., client_host=...)`` writes a
configuration into ``tmp_path``, starts ``freeDiameterd`` on a free port, waits until it is
initialised and its connection to the OCS is open, yields a ``FreeDiameterRelay`` and stops the
daemon afterwards. The relay routes requests by Destination-Realm (``rt_default``) to the OCS
(``ConnectPeer``) and accepts our SMSC as a peer through the ``acl_wl`` whitelist; plain TCP, no
TLS, no SCTP. The test OCS must accept the relay's identity (``TestOcs(client_host=RELAY_HOST,
client_realm=RELAY_REALM)``).

What freeDiameter 1.2.1 wants (found the hard way):

* ``SecPort = 0`` turns the TLS port off; then no ``TLS_Cred`` is needed, and ``No_TLS`` on the
  ``ConnectPeer`` keeps the OCS connection in clear;
* ``ListenOn = "127.0.0.1"`` is silently dropped (loopback endpoints are filtered out of the
  configured list), so the daemon listens on every address, on a port picked here;
* an incoming peer that is not a ``ConnectPeer`` is refused unless an extension validates it:
  ``acl_wl`` with ``ALLOW_IPSEC <host>`` accepts a CER without TLS (Inband-Security-Id 0);
* ``dict_dcca`` needs ``dict_nasreq`` loaded first, ``dict_dcca_3gpp`` needs ``dict_dcca``;
* the reconnect timer towards the OCS is ``TcTimer`` (default 30 s); it is 1 s here. The first
  connection attempt after start is delayed by a random 0-4 s (``fd_psm_next_timeout`` jitter,
  not configurable), so a start takes up to about 4 s;
* freeDiameter adds a Route-Record to the answers it relays as well, not only to requests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.charging.ocs import free_port

RELAY_HOST = "relay.example.net"
RELAY_REALM = "example.net"
BINARY = "freeDiameterd"
EXTENSION_DIRS = (
    "/usr/lib/freeDiameter",
    "/usr/lib/x86_64-linux-gnu/freeDiameter",
    "/usr/lib/aarch64-linux-gnu/freeDiameter",
    "/usr/local/lib/freeDiameter",
)
DICTIONARIES = ("dict_nasreq", "dict_dcca", "dict_dcca_3gpp")  # in dependency order
REQUIRED = ("acl_wl", "rt_default")
START_TIMEOUT_S = 15.0  # the 0-4 s connect jitter, on a loaded CI machine
STOP_TIMEOUT_S = 5.0


def _required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("SMSC_REQUIRE_FREEDIAMETER") == "1"
    )


def _extension_dir() -> Path | None:
    configured = os.environ.get("FREEDIAMETER_EXTENSIONS_DIR")
    for candidate in (configured, *EXTENSION_DIRS) if configured else EXTENSION_DIRS:
        path = Path(candidate)
        if all((path / f"{name}.fdx").is_file() for name in REQUIRED):
            return path
    return None


def require_freediameter() -> tuple[str, Path]:
    """The daemon and its extension directory; fails under CI (or the env flag), else skips."""
    binary = shutil.which(BINARY)
    extensions = _extension_dir()
    problem = None
    if binary is None:
        problem = f"{BINARY} is not installed (apt-get install freediameterd)"
    elif extensions is None:
        problem = (
            f"freeDiameter extensions {', '.join(REQUIRED)} not found in {EXTENSION_DIRS}"
            " (apt-get install freediameter-extensions, or set FREEDIAMETER_EXTENSIONS_DIR)"
        )
    if problem is not None:
        if _required():
            pytest.fail(f"freeDiameter required (CI / SMSC_REQUIRE_FREEDIAMETER=1): {problem}")
        pytest.skip(problem)
    assert binary is not None and extensions is not None
    return binary, extensions


@dataclass
class FreeDiameterRelay:
    """One freeDiameterd process relaying to one OCS; ``start``, ``restart``, ``stop``."""

    directory: Path
    ocs_port: int
    ocs_host: str = "ocs1.ocs.example.net"
    client_host: str = "smsc.ims.example.net"
    ocs_realm: str = "ocs.example.net"
    identity: str = RELAY_HOST
    realm: str = RELAY_REALM
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    runs: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """The log of the current (or last) run; each start writes a new one."""
        return self.directory / f"freediameter-{self.runs}.log"

    @property
    def config_path(self) -> Path:
        return self.directory / "freeDiameter.conf"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- configuration ---------------------------------------------------------------------

    def write_config(self, extensions: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        whitelist = self.directory / "acl_wl.conf"
        whitelist.write_text(f"ALLOW_IPSEC {self.client_host}\n")
        routes = self.directory / "rt_default.conf"
        routes.write_text(f'dr="{self.ocs_realm}" : rlm="{self.ocs_realm}" += 100 ;\n')
        loads = [
            f'LoadExtension = "{extensions / name}.fdx";'
            for name in DICTIONARIES
            if (extensions / f"{name}.fdx").is_file()
        ]
        loads += [
            f'LoadExtension = "{extensions / "acl_wl.fdx"}" : "{whitelist}";',
            f'LoadExtension = "{extensions / "rt_default.fdx"}" : "{routes}";',
        ]
        lines = [
            f'Identity = "{self.identity}";',
            f'Realm = "{self.realm}";',
            f"Port = {self.port};",
            "SecPort = 0;",
            "No_SCTP;",
            "No_IPv6;",
            "TcTimer = 1;",
            *loads,
            f'ConnectPeer = "{self.ocs_host}" {{ ConnectTo = "127.0.0.1"; '
            f"Port = {self.ocs_port}; No_TLS; }};",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> FreeDiameterRelay:
        """Start the daemon; return once it is initialised and its OCS connection is open."""
        binary, extensions = require_freediameter()
        if self.process is not None:
            raise RuntimeError("freeDiameterd is already running")
        self.write_config(extensions)
        self.runs += 1
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "-c", str(self.config_path), "-d"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for(lambda: "daemon initialized." in self.log(), "initialised", timeout)
        self.wait_for(lambda: self.peer_open(self.ocs_host), f"{self.ocs_host} open", timeout)
        return self

    def stop(self) -> None:
        """SIGTERM (freeDiameter sends DPR to its peers), SIGKILL if it does not end in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL: a crash, as its peers see it (TCP closed, no DPR)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def restart(self, *, graceful: bool = True, timeout: float = START_TIMEOUT_S) -> None:
        """Stop (or kill) and start again on the same port, with a new log file."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start(timeout)

    # --- state, from the log ---------------------------------------------------------------

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def peer_state(self, host: str) -> str | None:
        """The peer's last state the daemon logged (``STATE_OPEN``, ...), None if never."""
        found = re.findall(rf"-> '?(STATE_\w+)'?.*'{re.escape(host)}'", self.log())
        return found[-1] if found else None

    def peer_open(self, host: str) -> bool:
        return self.peer_state(host) == "STATE_OPEN"

    def wait_for(
        self, check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S
    ) -> None:
        """Poll ``check`` (blocking); fail with the daemon's log if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not check():
            process = self.process
            if process is not None and process.poll() is not None:
                pytest.fail(
                    f"freeDiameterd exited ({process.returncode}) before {what}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"freeDiameterd: {what} not reached in {timeout} s:\n{self.log()}")
            time.sleep(0.02)


@contextlib.contextmanager
def freediameter_relay(
    directory: Path,
    *,
    ocs_port: int,
    ocs_host: str = "ocs1.ocs.example.net",
    client_host: str = "smsc.ims.example.net",
    ocs_realm: str = "ocs.example.net",
) -> Iterator[FreeDiameterRelay]:
    """A started relay in front of the OCS at 127.0.0.1:ocs_port; stopped on exit."""
    relay = FreeDiameterRelay(
        directory, ocs_port, ocs_host=ocs_host, client_host=client_host, ocs_realm=ocs_realm
    )
    try:
        yield relay.start()
    finally:
        relay.stop()


@dataclass(frozen=True)
class RawAvp:
    """One top-level AVP as it was on the wire."""

    code: int
    flags: int
    vendor: int
    data: bytes  # the payload, without padding
    wire: bytes  # header, payload and padding


def split_avps(message: bytes) -> list[RawAvp]:
    """The top-level AVPs of one Diameter message, exactly as encoded."""
    avps, offset = [], 20
    while offset < len(message):
        code = int.from_bytes(message[offset : offset + 4], "big")
        flags = message[offset + 4]
        length = int.from_bytes(message[offset + 5 : offset + 8], "big")
        header = 12 if flags & 0x80 else 8
        vendor = int.from_bytes(message[offset + 8 : offset + 12], "big") if header == 12 else 0
        padded = (length + 3) & ~3
        avps.append(
            RawAvp(
                code,
                flags,
                vendor,
                message[offset + header : offset + length],
                message[offset : offset + padded],
            )
        )
        offset += padded
    return avps


class DiameterTap:
    """A TCP forwarder 127.0.0.1:port -> 127.0.0.1:target keeping every message it passes.

    ``sent`` holds the messages from the connecting side, ``answered`` those from the target,
    byte for byte, so a test can compare what went into the relay with what came out of it.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent: list[bytes] = []
        self.answered: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> DiameterTap:
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(2.0)

    def requests(self, command_code: int) -> list[bytes]:
        return [m for m in self.sent if _command(m) == command_code and m[4] & 0x80]

    def answers(self, command_code: int) -> list[bytes]:
        return [m for m in self.answered if _command(m) == command_code and not m[4] & 0x80]

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="diameter-tap")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                inbound, _ = self._listener.accept()
                outbound = socket.create_connection(("127.0.0.1", self.target_port), 2.0)
            except OSError:
                if self._closed:
                    return
                continue
            outbound.settimeout(None)
            with self._lock:
                self._sockets += [inbound, outbound]
            self._spawn(self._pump, inbound, outbound, self.sent)
            self._spawn(self._pump, outbound, inbound, self.answered)

    def _pump(self, source: socket.socket, sink: socket.socket, record: list[bytes]) -> None:
        buffer = b""
        try:
            while chunk := source.recv(65536):
                buffer += chunk
                while len(buffer) >= 20 and len(buffer) >= (size := _length(buffer)):
                    record.append(buffer[:size])
                    buffer = buffer[size:]
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):  # one side gone: close both, as a TCP proxy would
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _length(message: bytes) -> int:
    return int.from_bytes(message[1:4], "big")


def _command(message: bytes) -> int:
    return int.from_bytes(message[5:8], "big")
