"""Start-up checks and messages: each failure becomes one line naming what failed and where."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from smsc.errors import SmscError, StartupError
from smsc.settings import SettingsError
from smsc.settings_fields import split_host_port

EXIT_CONFIGURATION = 2
EXIT_ENVIRONMENT = 1


def reason_of(exc: BaseException) -> str:
    """The first line of what went wrong, without library wrapping or documentation links."""
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    original = getattr(cause, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    if isinstance(original, BaseException):
        cause = original
    text = str(cause).strip() or type(cause).__name__
    first = text.splitlines()[0].strip()
    if isinstance(cause, OSError) and cause.strerror and cause.strerror not in first:
        first = f"{first} ({cause.strerror})"
    return first


@contextmanager
def failing_as(what: str, *, exit_status: int = EXIT_ENVIRONMENT) -> Iterator[None]:
    """Turn the expected failures of one start-up step into a StartupError naming `what`."""
    try:
        yield
    except StartupError:
        raise
    except SettingsError as exc:
        raise StartupError(f"{what}: {exc}", exit_status=EXIT_CONFIGURATION) from exc
    except (SmscError, OSError) as exc:
        raise StartupError(f"{what}: {reason_of(exc)}", exit_status=exit_status) from exc


def _probe(kind: int, host: str, port: int, *, shared: bool = False) -> None:
    for family, socktype, proto, _, address in socket.getaddrinfo(
        host or None, port, type=kind, flags=socket.AI_PASSIVE
    )[:1]:
        with socket.socket(family, socktype, proto) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            elif shared:  # as the worker processes bind it (smsc/transport/reuseport.py)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind(address)


def check_listeners(
    sip_listen: tuple[str, ...], *tcp_listen: tuple[str, str], shared_udp: bool = False
) -> None:
    """Bind and release every listening address before anything else (migrations) runs, so a
    port in use or a foreign address is reported at once. ``shared_udp``: UDP is bound with
    SO_REUSEPORT (`sip.workers`), so the workers of a process that has just been killed, still
    draining, are no conflict; any other socket on the port is."""
    for entry in sip_listen:
        scheme, _, rest = entry.partition(":")
        host, port = split_host_port(rest)
        kind = socket.SOCK_DGRAM if scheme.lower() == "udp" else socket.SOCK_STREAM
        with failing_as(f"sip.listen {entry}"):
            _probe(kind, host, port, shared=shared_udp)
    for key, entry in tcp_listen:
        host, port = split_host_port(entry)
        with failing_as(f"{key} {entry}"):
            _probe(socket.SOCK_STREAM, host, port)
