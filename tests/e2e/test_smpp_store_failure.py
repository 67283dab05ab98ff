"""A submit the store cannot keep is answered ESME_RSYSERR, one SMS or several segments, and
the session goes on: the ESME is never left waiting for an answer."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from smsc.settings import SmppAccount
from smsc.smpp.constants import CommandStatus, Tag
from smsc.smpp.pdu import (
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
)
from smsc.smpp.tlv import make_tlv
from tests.e2e.conftest import Starter, free_port
from tests.e2e.test_smpp_tls import exchange

ACCOUNT = SmppAccount(system_id="bank", password="pw", allowed_sources=("MyBank",))
OTP = SubmitSm(
    source_addr_ton=5,
    source_addr="MyBank",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="491710000001",
    short_message=b"Your code is 1234",
)


async def test_submits_the_store_cannot_keep_get_esme_rsyserr(start_smsc: Starter) -> None:
    port = free_port()
    app = await start_smsc(smpp={"listen": (f"127.0.0.1:{port}",), "accounts": (ACCOUNT,)})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        bound = await exchange(reader, writer, BindTransmitter("bank", "pw"), 1)
        assert isinstance(bound, BindTransmitterResp) and bound.command_status == 0
        kept = await exchange(reader, writer, OTP, 2)
        assert isinstance(kept, SubmitSmResp)
        assert kept.command_status == CommandStatus.ESME_ROK and kept.message_id
        await app.store.close()  # the database is gone
        single = await exchange(reader, writer, OTP, 3)
        assert isinstance(single, SubmitSmResp)
        assert (single.command_status, single.message_id) == (CommandStatus.ESME_RSYSERR, "")
        long_text = make_tlv(Tag.MESSAGE_PAYLOAD, b"x" * 400)  # three segments, add_many
        several = await exchange(
            reader,
            writer,
            replace(OTP, short_message=b"", tlvs=(long_text,)),
            4,
        )
        assert isinstance(several, SubmitSmResp)
        assert several.command_status == CommandStatus.ESME_RSYSERR
        alive = await exchange(reader, writer, EnquireLink(), 5)
        assert isinstance(alive, EnquireLinkResp)
        assert app.smpp is not None
        assert [s["in_flight_in"] for s in app.smpp.sessions()] == [0]
    finally:
        writer.close()
