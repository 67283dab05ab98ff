"""Two independent ESME client libraries from PyPI, wrapped alike for tests/e2e/test_smpp.py.

- `smpplib` (python-smpplib, synchronous sockets): every call runs in a worker thread
  (asyncio.to_thread), one at a time, while the SMSC runs on the test's event loop;
- `aiosmpplib` (asyncio, a codebase of its own: naz's descendant): on the test's loop, its
  broker queue for submit_sm and its hook for what the SMSC sends.

Each library encodes our requests and decodes our answers with its own code; the wrappers only
carry the fields the tests read over into `SubmitAnswer` and `Delivered`. Nothing here uses the
SMSC's own SMPP codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp
from aiosmpplib import ESME, PhoneNumber
from aiosmpplib import SubmitSm as AioSubmitSm
from aiosmpplib.hook import AbstractHook
from aiosmpplib.log import WARNING
from aiosmpplib.protocol import DeliverSm as AioDeliverSm
from aiosmpplib.protocol import SmppMessage, SubmitSmResp
from aiosmpplib.state import NPI, TON, BindMode, SmppError

Mode = Literal["tx", "rx", "trx"]
LIBRARIES = ("smpplib", "aiosmpplib")

# SMPP 3.4 §5.1.3 command_status values, written out (not taken from the SMSC's constants)
ESME_ROK = 0x00
ESME_RINVBNDSTS = 0x04
ESME_RINVSRCADR = 0x0A
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RTHROTTLED = 0x58

# SMPP 3.4 §5.3.2 TLV tags the tests read from aiosmpplib's optional_params
_RECEIPTED_MESSAGE_ID = 0x001E
_MESSAGE_STATE = 0x0427
_NETWORK_ERROR_CODE = 0x0423


@dataclass(frozen=True)
class SubmitAnswer:
    """A submit_sm_resp (or a generic_nack in its place): command_status and message_id."""

    status: int
    message_id: str
    command: str = "submit_sm_resp"


@dataclass(frozen=True)
class Delivered:
    """A deliver_sm as the client library decoded it (answered ESME_ROK by the wrapper).

    `short_message` is the raw octets where the library gives them (smpplib), `text` the
    library's own decoding of them (aiosmpplib; smpplib leaves text to the application)."""

    source_addr: str
    source_addr_ton: int
    destination_addr: str
    dest_addr_ton: int
    esm_class: int
    data_coding: int
    short_message: bytes | None
    text: str | None
    receipted_message_id: str | None
    message_state: int | None
    network_error_code: bytes | None
    parsed_receipt: dict[str, Any] | None = None
    """aiosmpplib's own parse of an Appendix B receipt text (DeliverSm.parse_receipt)."""


@dataclass(frozen=True)
class Sm:
    """A text submit_sm, library-neutral; each wrapper encodes it with its library."""

    text: str
    destination: str
    source: str = "MyBank"
    source_ton: int = 5
    source_npi: int = 0
    ucs2: bool = False
    payload: bool = False
    registered_delivery: int = 0
    validity_s: int | None = None
    schedule_s: int | None = None
    """schedule_delivery_time, relative: this many seconds from now."""
    priority: int = 0


def relative_time(seconds: int) -> str:
    """SMPP 3.4 §7.1.2 relative time "YYMMDDhhmmss000R" (smpplib takes the string)."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


# --- smpplib ------------------------------------------------------------------------------------


class SmpplibEsme:
    """python-smpplib's synchronous Client, each call in a worker thread.

    deliver_sm and enquire_link that arrive while a response is awaited are answered at once
    (deliver_sm_resp ESME_ROK, enquire_link_resp) and the deliver_sm kept for next_deliver."""

    library = "smpplib"

    def __init__(self, port: int, system_id: str, password: str) -> None:
        self.system_id = system_id
        self.password = password
        self.client = smpplib.client.Client(
            "127.0.0.1", port, timeout=10, allow_unknown_opt_params=True
        )
        self.delivered: list[Delivered] = []
        self.deliver_answers: list[int | None] = []
        """How to answer the next deliver_sm, in turn: a command_status, or None for no answer
        at all; ESME_ROK once the list is used up."""
        self._lock = threading.Lock()

    # the calls, each in a thread

    async def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def locked() -> Any:
            with self._lock:
                return function(*args, **kwargs)

        return await asyncio.to_thread(locked)

    async def connect(self) -> None:
        await self._call(self.client.connect)

    async def bind(self, mode: Mode) -> int:
        """Connect and bind; the bind response's command_status (0: bound)."""
        if self.client.state == smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
            await self.connect()
        return int(await self._call(self._bind, mode))

    def _bind(self, mode: Mode) -> int:
        command = {"tx": "bind_transmitter", "rx": "bind_receiver", "trx": "bind_transceiver"}
        try:
            self.client._bind(command[mode], system_id=self.system_id, password=self.password)
        except smpplib.exceptions.PDUError as exc:
            return int(exc.args[1])
        return ESME_ROK

    async def send_text(self, sm: Sm) -> SubmitAnswer:
        """`sm` as smpplib builds it: GSM 7-bit by smpplib's own encoder (one septet per
        octet, data_coding 0) or UTF-16BE (data_coding 8), in short_message or
        message_payload."""
        octets = sm.text.encode("utf-16-be") if sm.ucs2 else smpplib.gsm.gsm_encode(sm.text)
        fields: dict[str, Any] = {
            "source_addr_ton": sm.source_ton,
            "source_addr_npi": sm.source_npi,
            "source_addr": sm.source,
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": sm.destination,
            "data_coding": 8 if sm.ucs2 else 0,
            "registered_delivery": sm.registered_delivery,
        }
        if sm.validity_s is not None:
            fields["validity_period"] = relative_time(sm.validity_s)
        if sm.schedule_s is not None:
            fields["schedule_delivery_time"] = relative_time(sm.schedule_s)
        if sm.priority:
            fields["priority_flag"] = sm.priority
        if sm.payload:
            fields["message_payload"] = octets
        else:
            fields["short_message"] = octets
        return await self.submit(**fields)

    async def submit(self, **fields: Any) -> SubmitAnswer:
        (answer,) = await self.submit_many([fields])
        return answer

    async def submit_many(
        self, batch: list[dict[str, Any]], force: bool = False
    ) -> list[SubmitAnswer]:
        """Send every submit_sm of `batch` (fields as smpplib names them), then read their
        responses. `force`: past smpplib's own bind-state check, to see what the SMSC answers
        to a submit_sm in a state that does not allow it."""
        result: list[SubmitAnswer] = await self._call(self._submit_many, batch, force)
        return result

    def _submit_many(self, batch: list[dict[str, Any]], force: bool) -> list[SubmitAnswer]:
        sequences = []
        for fields in batch:
            pdu = smpplib.smpp.make_pdu("submit_sm", client=self.client, **fields)
            if force:
                self.client._socket.sendall(pdu.generate())
            else:
                self.client.send_pdu(pdu)
            sequences.append(pdu.sequence)
        answers: dict[int, SubmitAnswer] = {}
        deadline = time.monotonic() + 10
        while len(answers) < len(sequences):
            pdu = self._read(deadline)
            if pdu.command in ("submit_sm_resp", "generic_nack") and pdu.sequence in sequences:
                message_id = getattr(pdu, "message_id", None) or b""
                answers[pdu.sequence] = SubmitAnswer(
                    int(pdu.status), _text(message_id), str(pdu.command)
                )
        return [answers[sequence] for sequence in sequences]

    async def query(self, message_id: str, **source: Any) -> tuple[int, int | None, int | None]:
        """query_sm: (command_status, message_state, error_code)."""
        result: tuple[int, int | None, int | None] = await self._call(
            self._query, message_id, source
        )
        return result

    def _query(self, message_id: str, source: dict[str, Any]) -> tuple[int, int | None, int | None]:
        # past smpplib's state table, which has query_sm on receivers only (SMPP 3.4 §4.8:
        # an ESME bound as transmitter or transceiver queries)
        pdu = smpplib.smpp.make_pdu("query_sm", client=self.client, message_id=message_id, **source)
        self.client._socket.sendall(pdu.generate())
        deadline = time.monotonic() + 10
        while True:
            answer = self._read(deadline)
            if answer.command == "query_sm_resp" and answer.sequence == pdu.sequence:
                return int(answer.status), answer.message_state, answer.error_code

    async def next_deliver(self, timeout: float = 10.0) -> Delivered:
        """The next deliver_sm (already answered ESME_ROK); TimeoutError if none comes."""
        if not self.delivered:
            await self._call(self._wait_deliver, time.monotonic() + timeout)
        return self.delivered.pop(0)

    def _wait_deliver(self, deadline: float) -> None:
        while not self.delivered:
            self._read(deadline)

    def _read(self, deadline: float) -> Any:
        """The next PDU from the SMSC; a deliver_sm is answered ESME_ROK and kept in
        `delivered`, an enquire_link answered."""
        sock = self.client._socket
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no PDU from the SMSC in time")
        sock.settimeout(left)
        try:
            pdu = self.client.read_pdu()
        except TimeoutError:  # socket.timeout
            raise TimeoutError("no PDU from the SMSC in time") from None
        if pdu.command == "deliver_sm":
            self.delivered.append(_from_smpplib(pdu))
            status = self.deliver_answers.pop(0) if self.deliver_answers else ESME_ROK
            if status is not None:
                self._answer("deliver_sm_resp", pdu.sequence, status)
        elif pdu.command == "enquire_link":
            self._answer("enquire_link_resp", pdu.sequence)
        return pdu

    def _answer(self, command: str, sequence: int, status: int = ESME_ROK) -> None:
        response = smpplib.smpp.make_pdu(command, client=self.client, status=status)
        response.sequence = sequence
        self.client._socket.sendall(response.generate())

    async def close(self) -> None:
        """Unbind when bound, then close the socket (whatever the SMSC says)."""
        await self._call(self._close)

    async def drop(self) -> None:
        """Close the TCP connection without an unbind."""
        await self._call(self._drop)

    def _drop(self) -> None:
        self.client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        self.client.disconnect()

    def _close(self) -> None:
        client = self.client
        if client._socket is None:
            return
        if client.state in (
            smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX,
            smpplib.consts.SMPP_CLIENT_STATE_BOUND_RX,
            smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX,
        ):
            with contextlib.suppress(OSError, TimeoutError, smpplib.exceptions.ConnectionError):
                unbind = smpplib.smpp.make_pdu("unbind", client=client)
                client._socket.sendall(unbind.generate())
                deadline = time.monotonic() + 3
                while self._read(deadline).command != "unbind_resp":
                    pass
        client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN  # no warning for a bound close
        client.disconnect()


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def _from_smpplib(pdu: Any) -> Delivered:
    receipted = pdu.receipted_message_id
    return Delivered(
        source_addr=_text(pdu.source_addr),
        source_addr_ton=int(pdu.source_addr_ton),
        destination_addr=_text(pdu.destination_addr),
        dest_addr_ton=int(pdu.dest_addr_ton),
        esm_class=int(pdu.esm_class),
        data_coding=int(pdu.data_coding),
        short_message=bytes(pdu.short_message or b""),
        text=None,
        receipted_message_id=None if receipted is None else _text(receipted).rstrip("\0"),
        message_state=pdu.message_state,
        network_error_code=pdu.network_error_code,
    )


# --- aiosmpplib -----------------------------------------------------------------------------------


class _Hook(AbstractHook):  # type: ignore[misc]
    """aiosmpplib's hook: submit_sm_resp to the waiting future (by log_id), deliver_sm to a
    queue, and every raw PDU it saw."""

    def __init__(self) -> None:
        self.answers: dict[str, asyncio.Future[SubmitAnswer]] = {}
        self.deliveries: asyncio.Queue[Delivered] = asyncio.Queue()
        self.received_pdus: list[bytes] = []
        self.errors: list[Exception] = []

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        self.received_pdus.append(pdu)
        if isinstance(smpp_message, SubmitSmResp):
            future = self.answers.pop(smpp_message.log_id, None)
            if future is not None and not future.done():
                status = int(smpp_message.command_status)
                future.set_result(SubmitAnswer(status, smpp_message.message_id))
        elif isinstance(smpp_message, AioDeliverSm):
            self.deliveries.put_nowait(_from_aiosmpplib(smpp_message))

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self.errors.append(error)
        log_id = getattr(smpp_message, "log_id", "")
        future = self.answers.pop(log_id, None)
        if future is not None and not future.done():
            future.set_exception(error)


def _parameter(message: AioDeliverSm, tag: int) -> Any:
    for parameter in message.optional_params or ():
        if parameter.tag == tag:
            return parameter.value
    return None


def _from_aiosmpplib(message: AioDeliverSm) -> Delivered:
    error = _parameter(message, _NETWORK_ERROR_CODE)
    receipted = _parameter(message, _RECEIPTED_MESSAGE_ID)
    return Delivered(
        source_addr=message.source.number,
        source_addr_ton=int(message.source.ton),
        destination_addr=message.destination.number,
        dest_addr_ton=int(message.destination.ton),
        esm_class=message.esm_class,
        data_coding=0 if message.encoding is None else _DATA_CODING[message.encoding],
        short_message=None,
        text=message.short_message or message.message_payload,
        receipted_message_id=None if receipted is None else str(receipted).rstrip("\0"),
        message_state=_parameter(message, _MESSAGE_STATE),
        network_error_code=None if error is None else str(error).encode("latin-1"),
        parsed_receipt=dict(message.parse_receipt()) if message.is_receipt() else None,
    )


_DATA_CODING = {"gsm0338": 0, "ascii": 1, "latin_1": 3, "ucs2": 8}
"""aiosmpplib's encoding names (aiosmpplib.state.SmppDataCoding) of the data_coding values the
SMSC sends."""

_MODES = {"tx": BindMode.TRANSMITTER, "rx": BindMode.RECEIVER, "trx": BindMode.TRANSCEIVER}


class AioEsme:
    """aiosmpplib's ESME on the test's event loop.

    aiosmpplib cannot decode a bind_*_resp without a body, which is what SMPP 3.4 §4.1.2 has
    an SMSC send with a non-zero command_status: its connect() raises ValueError, after giving
    the raw PDU to the hook. The refusal's command_status is then read from that PDU's header."""

    library = "aiosmpplib"

    def __init__(self, port: int, system_id: str, password: str) -> None:
        self.port = port
        self.system_id = system_id
        self.password = password
        self.hook = _Hook()
        self.esme: ESME | None = None
        self._runner: asyncio.Task[None] | None = None

    async def bind(self, mode: Mode) -> int:
        """Connect and bind; the bind response's command_status (0: bound, the ESME runs)."""
        self.esme = esme = ESME(
            smsc_host="127.0.0.1",
            smsc_port=self.port,
            system_id=self.system_id,
            password=self.password,
            bind_mode=_MODES[mode],
            hook=self.hook,
            log_level=WARNING,
            log_handler=logging.NullHandler(),
            socket_timeout=10.0,
        )
        seen = len(self.hook.received_pdus)
        try:
            await esme.connect()
        except SmppError as exc:
            await self._drop()
            return int(exc.command_status)
        except ValueError:  # a bare error response, see the class's docstring
            await self._drop()
            (pdu,) = self.hook.received_pdus[seen:]
            command_id, status = struct.unpack_from(">II", pdu, 4)
            assert command_id & 0x80000000, f"not a response: {pdu.hex()}"
            assert len(pdu) == 16, f"an error bind response with a body: {pdu.hex()}"
            return int(status)
        self._runner = asyncio.get_running_loop().create_task(esme.start())
        return ESME_ROK

    async def _drop(self) -> None:
        esme = self.esme
        if esme is not None and esme._writer is not None:
            esme._writer.close()
            with contextlib.suppress(OSError):
                await esme._writer.wait_closed()
            esme._writer = None

    async def submit(self, **fields: Any) -> SubmitAnswer:
        """Queue an aiosmpplib SubmitSm (its own field names: source=PhoneNumber(...),
        short_message=str, encoding=...) and wait for its submit_sm_resp."""
        assert self.esme is not None
        log_id = uuid.uuid4().hex
        future: asyncio.Future[SubmitAnswer] = asyncio.get_running_loop().create_future()
        self.hook.answers[log_id] = future
        await self.esme.broker.enqueue(AioSubmitSm(log_id=log_id, **fields))
        return await asyncio.wait_for(future, 10)

    async def send_text(self, sm: Sm) -> SubmitAnswer:
        """`sm` as aiosmpplib builds it: its gsm0338 codec (data_coding 0) or its ucs2 codec
        (data_coding 8); message_payload by its `message_payload` field, the validity period
        from a timedelta by its own formatter."""
        fields: dict[str, Any] = {
            "source": aio_address(sm.source, sm.source_ton, sm.source_npi),
            "destination": aio_address(sm.destination, 1, 1),
            "registered_delivery": sm.registered_delivery,
            "encoding": "ucs2" if sm.ucs2 else None,
        }
        if sm.validity_s is not None:
            fields["validity_period"] = timedelta(seconds=sm.validity_s)
        if sm.schedule_s is not None:
            fields["schedule_delivery_time"] = timedelta(seconds=sm.schedule_s)
        if sm.priority:
            fields["priority_flag"] = sm.priority
        if sm.payload:
            fields["message_payload"] = sm.text
        else:
            fields["short_message"] = sm.text
        return await self.submit(**fields)

    async def next_deliver(self, timeout: float = 10.0) -> Delivered:
        return await asyncio.wait_for(self.hook.deliveries.get(), timeout)

    async def close(self) -> None:
        esme, runner = self.esme, self._runner
        if esme is None:
            return
        if runner is not None and not runner.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(esme.stop(), 5)
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        await self._drop()


def aio_address(number: str, ton: int, npi: int) -> PhoneNumber:
    return PhoneNumber(number, TON(ton), NPI(npi))


def make_esme(library: str, port: int, system_id: str, password: str) -> SmpplibEsme | AioEsme:
    if library == "smpplib":
        return SmpplibEsme(port, system_id, password)
    return AioEsme(port, system_id, password)
