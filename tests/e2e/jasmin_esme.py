"""A minimal ESME on Jasmin's SMPP PDU codec (smpp.pdu3): bind_transmitter, cancel_sm and
replace_sm, which neither smpplib nor aiosmpplib sends; our codec is not involved on the
client side."""

from __future__ import annotations

import asyncio
import io
import struct
from typing import Any, ClassVar

from smpp.pdu import constants, operations, pdu_encoding
from smpp.pdu import pdu_types as t

_TON = {0: t.AddrTon.UNKNOWN, 1: t.AddrTon.INTERNATIONAL, 5: t.AddrTon.ALPHANUMERIC}
_NPI = {0: t.AddrNpi.UNKNOWN, 1: t.AddrNpi.ISDN}


class _ReplaceSM(operations.ReplaceSM):  # type: ignore[misc]
    """smpp.pdu3 0.6 lists sm_length among replace_sm's fields but has no encoder for it
    (KeyError 'sm_length'); its short_message encoder writes the length, as for submit_sm."""

    mandatoryParams: ClassVar[list[str]] = [  # noqa: N815 - the library's name
        p for p in operations.ReplaceSM.mandatoryParams if p != "sm_length"
    ]


class JasminEsme:
    """One TCP session; each request waits for its response (sequence numbers from 1)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.codec = pdu_encoding.PDUEncoder()
        self.sequence = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _request(self, pdu: Any) -> Any:
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.codec.encode(pdu))
        while True:
            head = await asyncio.wait_for(self.reader.readexactly(4), 10)
            (length,) = struct.unpack(">I", head)
            answer = self.codec.decode(io.BytesIO(head + await self.reader.readexactly(length - 4)))
            if answer.seqNum == pdu.seqNum:
                return answer

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    async def bind_transmitter(self, system_id: str, password: str) -> int:
        """The bind_transmitter_resp's command_status."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        bind = operations.BindTransmitter(
            seqNum=self._next(), system_id=system_id, password=password, system_type=""
        )
        return _status(await self._request(bind))

    async def cancel(
        self,
        message_id: str,
        source: tuple[int, str],
        destination: tuple[int, str] | None = None,
        service_type: str = "",
    ) -> int:
        """cancel_sm of `message_id` ("": every SMS from `source` to `destination`) from
        `source` (TON, address); its command_status."""
        dest_ton, dest_addr = destination or (0, "")
        cancel = operations.CancelSM(
            seqNum=self._next(),
            service_type=service_type or None,
            message_id=message_id or None,
            source_addr_ton=_TON[source[0]],
            source_addr_npi=_NPI[0 if source[0] == 5 else 1],
            source_addr=source[1],
            dest_addr_ton=_TON[dest_ton],
            dest_addr_npi=_NPI[1 if dest_addr else 0],
            destination_addr=dest_addr or None,
        )
        return _status(await self._request(cancel))

    async def replace(
        self,
        message_id: str,
        source: tuple[int, str],
        short_message: bytes,
        *,
        registered_delivery: bool = False,
    ) -> int:
        """replace_sm of `message_id` with GSM 7-bit `short_message`; its command_status."""
        pdu = _ReplaceSM(
            seqNum=self._next(),
            message_id=message_id,
            source_addr_ton=_TON[source[0]],
            source_addr_npi=_NPI[0 if source[0] == 5 else 1],
            source_addr=source[1],
            schedule_delivery_time=None,
            validity_period=None,
            registered_delivery=t.RegisteredDelivery(
                t.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED
                if registered_delivery
                else t.RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED
            ),
            sm_default_msg_id=0,
            short_message=short_message,
        )
        return _status(await self._request(pdu))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
            self.writer = None


def _status(pdu: Any) -> int:
    """The command_status on the wire (smpp.pdu3's enum values are its own)."""
    return int(constants.command_status_name_map[pdu.status.name])
