"""The SMPP 3.4 server end to end over real TCP, with two independent ESME client libraries
from PyPI (smpplib, synchronous in a thread; aiosmpplib, asyncio) and the test S-CSCF/UE peer
over UDP (tests/e2e/peer.py) taking the MT SMS.

Binds and their refusals, requests the bind state does not allow, throttling, an alphanumeric
sender reaching the handset, long UCS2 messages (message_payload, UDH and SAR parts), delivery
receipts (delivered, undeliverable, expired; sent again until ESME_ROK; one waiting for its
receiver across a restart, and for receipt_validity_h), MO to an ESME's short code (one SMS and
a concatenated one), the sessions API and query_sm. What the UE receives is decoded with the
SMSC's own TPDU decoder and with smspdudecoder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import smpplib.consts
import smpplib.gsm
from smspdudecoder.fields import SMSDeliver as TheirDeliver

from smsc.app import Application
from smsc.settings import ApplicationRoute, Settings, SmppAccount
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.rp import RpAck, RpData, RpError, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, decode_tpdu
from smsc.sms.udh import UserDataHeader, concatenation_ie
from tests.e2e.conftest import Starter, free_port, http_base, make_settings, sip_port
from tests.e2e.peer import UdpPeer, Wire, message_request, response_to
from tests.e2e.smpp_clients import (
    ESME_RBINDFAIL,
    ESME_RINVBNDSTS,
    ESME_RINVPASWD,
    ESME_RINVSRCADR,
    ESME_RINVSYSID,
    ESME_ROK,
    ESME_RTHROTTLED,
    LIBRARIES,
    AioEsme,
    Delivered,
    Sm,
    SmpplibEsme,
    aio_address,
    make_esme,
)
from tests.e2e.test_numbers_and_routes import submit as mo_submit

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
UE = "491710000001"
"""The subscriber the ESMEs write to (and who sends the MO)."""
BANK = SmppAccount(
    system_id="mybank",
    password="s3cret",
    allowed_sources=("MyBank", "+4915100000001", "4444"),
)
READER = SmppAccount(system_id="reader", password="r3ad", bind_types=("rx",))
SLOW = SmppAccount(system_id="slow", password="sl0w", max_rate=5, allowed_sources=("*",))
ACCOUNTS = (BANK, READER, SLOW)
FAST_DELIVERY = {"retry_initial_s": 0.4, "retry_max_s": 5.0, "retry_factor": 2.0, "jitter": 0.0}
FAST_OUTBOX = {"retry_initial_ms": 50, "retry_max_ms": 200}
LONG_TEXT = ("Съешь же ещё этих мягких французских булок, да выпей чаю. " * 9)[:500]
"""500 Cyrillic characters: 1000 octets of UCS2, 8 segments of at most 134 octets."""
assert len(LONG_TEXT) == 500

library = pytest.mark.parametrize("library", LIBRARIES)


# --- the S-CSCF and the UE ---------------------------------------------------------------------


@dataclass
class Ue:
    """The S-CSCF and the UE behind it: every MT MESSAGE is answered `sip_status` and kept
    with its RP-DATA; the UE's RP answers and MO go to the SMSC as MESSAGEs."""

    peer: UdpPeer
    app: Application
    sip_status: int = 200
    mts: list[tuple[Wire, RpData]] = field(default_factory=list)
    rp_answers: dict[str, Any] = field(default_factory=dict)
    """The SMSC's RP-ACK / RP-ERROR to an MO, by the MO's Call-ID (its In-Reply-To)."""
    responses: dict[str, Wire] = field(default_factory=dict)
    """The SMSC's answers to our MESSAGEs, by Call-ID."""

    async def _receive(self, deadline: float) -> None:
        wire = await self.peer.next(max(0.01, deadline - time.monotonic()))
        if not wire.is_request:
            self.responses[wire.get("Call-ID")] = wire
            return
        rp = decode_rp(wire.body)
        if isinstance(rp, RpData) and rp.message_type == RpMessageType.RP_DATA_N_TO_MS:
            reason = "OK" if self.sip_status == 200 else "Temporarily Unavailable"
            self.peer.send(response_to(wire, self.sip_status, reason), wire.source)
            self.mts.append((wire, rp))
        else:
            self.peer.send(response_to(wire), wire.source)
            self.rp_answers[wire.headers.get("in-reply-to", [""])[0]] = rp

    async def next_mt(self, timeout: float = 10.0) -> tuple[Wire, RpData]:
        deadline = time.monotonic() + timeout
        while not self.mts:
            await self._receive(deadline)
        return self.mts.pop(0)

    def _send(self, body: bytes, sender: str) -> str:
        request, call_id = message_request(
            uri=PSI, sender=sender, body=body, via=f"SIP/2.0/UDP 127.0.0.1:{self.peer.port}"
        )
        self.peer.send(request, ("127.0.0.1", sip_port(self.app)))
        return call_id

    async def answer(self, rp: RpData, cause: int | None = None, recipient: str = UE) -> None:
        """The UE's RP-ACK (cause None) or RP-ERROR to an MT, and the SMSC's 200 to it."""
        if cause is None:
            body = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, rp.message_reference))
        else:
            body = encode_rp(RpError(RpMessageType.RP_ERROR_MS_TO_N, rp.message_reference, cause))
        call_id = self._send(body, f"tel:+{recipient}")
        deadline = time.monotonic() + 10
        while call_id not in self.responses:
            await self._receive(deadline)
        assert self.responses[call_id].status == 200

    async def send_mo(self, body: bytes, sender: str = UE) -> Any:
        """An MO from `sender`; the SMSC's RP answer to it."""
        call_id = self._send(body, f"tel:+{sender}")
        deadline = time.monotonic() + 10
        while call_id not in self.rp_answers:
            await self._receive(deadline)
        return self.rp_answers.pop(call_id)

    async def quiet(self, seconds: float) -> None:
        """No MT arrives for `seconds`."""
        deadline = time.monotonic() + seconds
        with pytest.raises(TimeoutError):
            while not self.mts:
                await self._receive(deadline)
        assert not self.mts


def deliver_of(rp: RpData) -> SmsDeliver:
    deliver = decode_tpdu(rp.user_data, rp.message_type)
    assert isinstance(deliver, SmsDeliver)
    return deliver


def theirs(rp: RpData) -> dict[str, Any]:
    """smspdudecoder's reading of the SMS-DELIVER (it wants hex led by an empty SMSC field)."""
    decoded: dict[str, Any] = TheirDeliver.decode(StringIO("00" + rp.user_data.hex().upper()))
    return decoded


# --- fixtures and helpers ------------------------------------------------------------------------


def smpp_section(port: int, **extra: Any) -> dict[str, Any]:
    return {"listen": (f"127.0.0.1:{port}",), "accounts": ACCOUNTS, **extra}


async def start(
    start_smsc: Starter, scscf: UdpPeer, **sections: dict[str, Any]
) -> tuple[Application, int, Ue]:
    """An SMSC with SMPP on a free port, MT to the test S-CSCF; its SMPP port and the UE."""
    # smpp before routing: the settings check routing.applications against smpp.accounts
    sections = {"smpp": sections.pop("smpp", smpp_section(free_port())), **sections}
    app: Application = await start_smsc(
        sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"},
        delivery=FAST_DELIVERY,
        outbox=FAST_OUTBOX,
        **sections,
    )
    assert app.smpp is not None
    ((_, port),) = app.smpp.addresses
    return app, port, Ue(scscf, app)


def restart_settings(tmp_path: Path, scscf: UdpPeer, storage: dict[str, str]) -> Settings:
    """Settings for an SMSC a test starts, stops and starts again itself (`start` is for one
    started once): SMPP on a free port, MT to the test S-CSCF, `storage` kept between."""
    return make_settings(
        tmp_path,
        storage=storage,
        smpp=smpp_section(free_port()),
        sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"},
        delivery=FAST_DELIVERY,
        outbox=FAST_OUTBOX,
    )


def opener(
    esmes: list[SmpplibEsme | AioEsme], port: int
) -> Callable[..., Awaitable[SmpplibEsme | AioEsme]]:
    async def open_esme(
        library: str, mode: str = "trx", system_id: str = "mybank", password: str = "s3cret"
    ) -> SmpplibEsme | AioEsme:
        esme = make_esme(library, port, system_id, password)
        esmes.append(esme)
        status = await esme.bind(mode)  # type: ignore[arg-type]
        assert status == ESME_ROK, f"{library} {mode} bind: {status:#x}"
        return esme

    return open_esme


async def metrics(app: Application) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{http_base(app)}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


async def wait_for(
    condition: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def stored_count(app: Application) -> int:
    return sum((await app.store.count_by_state()).values())


def receipt_text(delivered: Delivered) -> str:
    """The Appendix B text as the library gave it (smpplib: octets; aiosmpplib: decoded)."""
    if delivered.text is not None:
        return delivered.text
    assert delivered.short_message is not None
    return delivered.short_message.decode("ascii")


def text_sm(text: str, **fields: Any) -> Sm:
    return Sm(text=text, destination=UE, **fields)


# --- (a) binds -----------------------------------------------------------------------------------


@library
async def test_each_bind_mode_binds_and_shows_in_the_sessions(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    app, port, _ = await start(start_smsc, scscf)
    assert app.smpp is not None
    open_esme = opener(esmes, port)
    for mode in ("tx", "rx", "trx"):
        esme = await open_esme(library, mode)
        (session,) = app.smpp.sessions()
        assert (session["system_id"], session["bind"], session["state"]) == (
            "mybank",
            mode,
            f"bound_{mode}",
        )
        await esme.close()

        async def ended() -> bool:
            assert app.smpp is not None
            return not app.smpp.sessions()

        await wait_for(ended, what="the session to end")


@library
async def test_binds_are_refused_with_the_status_of_the_reason(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    app, port, _ = await start(start_smsc, scscf)
    cases = [
        ("mybank", "wrong", "trx", ESME_RINVPASWD),
        ("nobody", "s3cret", "trx", ESME_RINVSYSID),
        ("reader", "r3ad", "tx", ESME_RBINDFAIL),  # an rx-only account
        ("reader", "r3ad", "trx", ESME_RBINDFAIL),
    ]
    for system_id, password, mode, expected in cases:
        esme = make_esme(library, port, system_id, password)
        esmes.append(esme)
        status = await esme.bind(mode)  # type: ignore[arg-type]
        assert status == expected, f"{system_id}/{mode}: {status:#x}, not {expected:#x}"
    text = await metrics(app)
    assert sample(text, "smsc_smpp_binds_total", account="mybank", bind="trx", outcome="0xe") == 1
    assert sample(text, "smsc_smpp_binds_total", account="unknown", bind="trx", outcome="0xf") == 1
    assert sample(text, "smsc_smpp_binds_total", account="reader", bind="tx", outcome="0xd") == 1
    # the refused never bound; a right one still binds
    assert app.smpp is not None
    assert not any(s["system_id"] for s in app.smpp.sessions())
    await opener(esmes, port)(library, "rx", "reader", "r3ad")


async def test_a_request_the_bind_state_does_not_allow_is_refused(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    """Sent past smpplib's own state check (aiosmpplib cannot send them at all: it waits for
    a bind, and drops what a receiver queues)."""
    app, port, _ = await start(start_smsc, scscf)
    fields = {
        "source_addr_ton": 5,
        "source_addr": "MyBank",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": UE,
        "short_message": b"hello",
    }
    before = SmpplibEsme(port, "mybank", "s3cret")
    esmes.append(before)
    await before.connect()
    (answer,) = await before.submit_many([fields], force=True)
    assert (answer.command, answer.status) == ("submit_sm_resp", ESME_RINVBNDSTS)
    receiver = await opener(esmes, port)("smpplib", "rx")
    assert isinstance(receiver, SmpplibEsme)
    (answer,) = await receiver.submit_many([fields], force=True)
    assert (answer.command, answer.status) == ("submit_sm_resp", ESME_RINVBNDSTS)
    assert await stored_count(app) == 0
    text = await metrics(app)
    assert sample(text, "smsc_smpp_rejected_total", status="0x4") == 2


# --- (b) throttling ------------------------------------------------------------------------------


async def test_a_burst_above_max_rate_is_throttled_and_counted(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    app, port, _ = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "tx", "slow", "sl0w")
    assert isinstance(esme, SmpplibEsme)
    burst = [
        {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "4915100000001",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": UE,
            "short_message": f"burst {i}".encode(),
        }
        for i in range(20)
    ]
    started = time.monotonic()
    answers = await esme.submit_many(burst)
    took = time.monotonic() - started
    statuses = [a.status for a in answers]
    accepted = statuses.count(ESME_ROK)
    throttled = statuses.count(ESME_RTHROTTLED)
    assert accepted + throttled == 20, statuses
    # a bucket of 5 plus what 5/s refills while the burst is answered
    assert 5 <= accepted <= 5 + int(5 * took) + 1, (statuses, took)
    assert throttled >= 20 - accepted
    text = await metrics(app)
    assert sample(text, "smsc_smpp_throttled_total", account="slow") == throttled
    assert sample(text, "smsc_smpp_submits_total", account="slow", status="0x58") == throttled
    assert await stored_count(app) == accepted


# --- (c) an alphanumeric sender ------------------------------------------------------------------


@library
async def test_an_alphanumeric_sender_reaches_the_handset_as_a_name(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)(library, "tx")
    text = f"Your code is 4711 ({library})"
    answer = await esme.send_text(text_sm(text))
    assert answer.status == ESME_ROK and answer.message_id
    wire, rp = await ue.next_mt()
    assert wire.start == f"MESSAGE tel:+{UE} SIP/2.0"
    deliver = deliver_of(rp)
    assert deliver.originator.ton == TypeOfNumber.ALPHANUMERIC
    assert deliver.originator.value == "MyBank"
    assert deliver.user_data.text == text
    decoded = theirs(rp)
    assert decoded["sender"]["toa"]["ton"] == "alphanumeric"
    assert decoded["sender"]["number"] == "MyBank"
    assert decoded["user_data"]["data"] == text
    await ue.answer(rp)

    # a name the account does not own: refused, nothing stored
    before = await stored_count(app)
    refused = await esme.send_text(text_sm("phish", source="OtherBank"))
    assert refused.status == ESME_RINVSRCADR
    assert await stored_count(app) == before
    await ue.quiet(0.5)


# --- (d) long UCS2 messages ----------------------------------------------------------------------


async def receive_parts(ue: Ue, count: int) -> list[tuple[int, int, int, str]]:
    """`count` MT segments, each RP-ACKed: (reference, total, sequence, text) as both decoders
    read them (they must agree)."""
    parts = []
    for _ in range(count):
        _, rp = await ue.next_mt()
        deliver = deliver_of(rp)
        header = deliver.user_data.header
        assert header is not None and header.concatenation is not None
        concat = header.concatenation
        text = deliver.user_data.text
        assert text is not None
        decoded = theirs(rp)
        assert decoded["dcs"]["encoding"] == "ucs2"
        (element,) = [e for e in decoded["user_data"]["header"]["elements"] if e["iei"] in (0, 8)]
        assert (
            element["data"]["reference"],
            element["data"]["parts_count"],
            element["data"]["part_number"],
        ) == (concat.reference, concat.total, concat.sequence)
        assert decoded["user_data"]["data"] == text
        assert deliver.originator.value == "MyBank"
        parts.append((concat.reference, concat.total, concat.sequence, text))
        await ue.answer(rp)
    return parts


def check_concatenated(parts: list[tuple[int, int, int, str]], text: str) -> None:
    assert len({reference for reference, _, _, _ in parts}) == 1
    assert {total for _, total, _, _ in parts} == {len(parts)}
    ordered = sorted(parts, key=lambda part: part[2])
    assert [sequence for _, _, sequence, _ in ordered] == list(range(1, len(parts) + 1))
    assert "".join(part_text for _, _, _, part_text in ordered) == text


@library
async def test_a_long_ucs2_message_payload_arrives_as_concatenated_segments(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    _, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)(library, "tx")
    answer = await esme.send_text(text_sm(LONG_TEXT, ucs2=True, payload=True))
    assert answer.status == ESME_ROK
    parts = await receive_parts(ue, 8)
    check_concatenated(parts, LONG_TEXT)
    await ue.quiet(0.5)


async def test_a_long_ucs2_message_in_udh_parts_keeps_the_esme_s_concatenation(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    """smpplib's make_parts and aiosmpplib's own UDH splitting, one after the other."""
    _, port, ue = await start(start_smsc, scscf)
    open_esme = opener(esmes, port)
    sync = await open_esme("smpplib", "tx")
    assert isinstance(sync, SmpplibEsme)
    chunks, _, esm_class = smpplib.gsm.make_parts(
        LONG_TEXT, encoding=smpplib.consts.SMPP_ENCODING_ISO10646, use_udhi=True
    )
    assert esm_class == 0x40
    fields = {
        "source_addr_ton": 5,
        "source_addr": "MyBank",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": UE,
        "esm_class": 0x40,
        "data_coding": 8,
    }
    answers = await sync.submit_many([{**fields, "short_message": c} for c in chunks])
    assert [a.status for a in answers] == [ESME_ROK] * len(chunks)
    parts = await receive_parts(ue, len(chunks))
    check_concatenated(parts, LONG_TEXT)
    assert parts[0][0] == chunks[0][3]  # the reference smpplib chose

    asynchronous = await open_esme("aiosmpplib", "tx")
    assert isinstance(asynchronous, AioEsme)
    answer = await asynchronous.submit(
        source=aio_address("MyBank", 5, 0),
        destination=aio_address(UE, 1, 1),
        short_message=LONG_TEXT,
        encoding="ucs2",
        esm_class=0x40,
        auto_message_payload=False,
        registered_delivery=0,
    )
    assert answer.status == ESME_ROK
    parts = await receive_parts(ue, 8)
    check_concatenated(parts, LONG_TEXT)
    await ue.quiet(0.5)


@pytest.mark.parametrize("part_octets", [132, pytest.param(134, id="134-smpplib")])
async def test_a_long_ucs2_message_in_sar_parts_gets_a_concatenation_header(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], part_octets: int
) -> None:
    """smpplib with the sar_* TLVs: parts of 134 octets as smpplib's make_parts(use_udhi=False)
    cuts them, and of 132. (aiosmpplib 0.7.4's SAR splitting cannot be used: its
    ESME._dequeue_messages reads an unassigned `encoding` there, UnboundLocalError.)"""
    _, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "tx")
    assert isinstance(esme, SmpplibEsme)
    if part_octets == 134:
        chunks, _, esm_class = smpplib.gsm.make_parts(
            LONG_TEXT, encoding=smpplib.consts.SMPP_ENCODING_ISO10646, use_udhi=False
        )
        assert esm_class == 0
    else:
        chunks = smpplib.gsm.split_sequence(LONG_TEXT.encode("utf-16-be"), part_octets)
    assert {len(chunk) for chunk in chunks[:-1]} == {part_octets}
    batch = [
        {
            "source_addr_ton": 5,
            "source_addr": "MyBank",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": UE,
            "data_coding": 8,
            "short_message": chunk,
            "sar_msg_ref_num": 77,
            "sar_total_segments": len(chunks),
            "sar_segment_seqnum": number,
        }
        for number, chunk in enumerate(chunks, start=1)
    ]
    answers = await esme.submit_many(batch)
    assert [a.status for a in answers] == [ESME_ROK] * len(chunks)
    parts = await receive_parts(ue, len(chunks))
    check_concatenated(parts, LONG_TEXT)
    assert parts[0][0] == 77


# --- (e) delivery receipts -----------------------------------------------------------------------


def check_receipt(delivered: Delivered, message_id: str, stat: str, state: int) -> str:
    text = receipt_text(delivered)
    assert delivered.esm_class == 0x04, delivered
    assert delivered.receipted_message_id == message_id
    assert delivered.message_state == state
    assert f"id:{message_id} " in text
    assert f"stat:{stat} " in text
    assert delivered.source_addr == UE
    assert (delivered.destination_addr, delivered.dest_addr_ton) == ("MyBank", 5)
    parsed = delivered.parsed_receipt
    if parsed is not None:  # aiosmpplib read the Appendix B text itself
        assert (parsed["id"], parsed["stat"], parsed["sub"]) == (message_id, stat, 1)
        assert parsed["done date"] >= parsed["submit date"]
    return text


@library
async def test_a_delivered_message_gets_a_delivrd_receipt_and_query_says_delivered(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    _, port, ue = await start(start_smsc, scscf)
    open_esme = opener(esmes, port)
    esme = await open_esme(library, "trx")
    answer = await esme.send_text(text_sm("Receipt please", registered_delivery=1))
    assert answer.status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp)
    receipt = await esme.next_deliver()
    text = check_receipt(receipt, answer.message_id, "DELIVRD", 2)
    assert "sub:001 dlvrd:001 " in text and "err:000 " in text
    assert receipt.network_error_code is None

    # query_sm (smpplib: aiosmpplib 0.7.4 has no query_sm)
    query = esme if isinstance(esme, SmpplibEsme) else await open_esme("smpplib", "tx")
    assert isinstance(query, SmpplibEsme)
    status, state, error = await query.query(
        answer.message_id, source_addr_ton=5, source_addr_npi=0, source_addr="MyBank"
    )
    assert (status, state, error) == (ESME_ROK, 2, 0)


async def test_a_refused_message_gets_an_undeliv_receipt_with_the_rp_cause(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    _, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "trx")
    answer = await esme.send_text(text_sm("Not for you", registered_delivery=1))
    assert answer.status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp, cause=30)  # unknown subscriber: permanent
    receipt = await esme.next_deliver()
    text = check_receipt(receipt, answer.message_id, "UNDELIV", 5)
    assert "dlvrd:000 " in text and "err:030 " in text
    assert receipt.network_error_code == bytes((3, 0, 30))  # GSM, the RP-Cause
    assert isinstance(esme, SmpplibEsme)
    status, state, error = await esme.query(
        answer.message_id, source_addr_ton=5, source_addr_npi=0, source_addr="MyBank"
    )
    assert (status, state, error) == (ESME_ROK, 5, 30)


async def test_a_message_whose_validity_runs_out_gets_an_expired_receipt(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    """Validity 3 s; the UE's network answers every MT 480 (temporary): the retries (0.4 s,
    0.8 s, 1.6 s) run into the end of the validity period."""
    _, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("aiosmpplib", "trx")
    ue.sip_status = 480
    answer = await esme.send_text(text_sm("Too late", registered_delivery=1, validity_s=3))
    assert answer.status == ESME_ROK
    attempts = 0
    deadline = time.monotonic() + 15
    receipt: Delivered | None = None
    while receipt is None:
        assert time.monotonic() < deadline
        try:
            receipt = await esme.next_deliver(timeout=0.2)
        except TimeoutError:
            try:
                await ue.next_mt(timeout=0.2)
                attempts += 1
            except TimeoutError:
                pass
    text = check_receipt(receipt, answer.message_id, "EXPIRED", 3)
    assert "dlvrd:000 " in text
    assert attempts >= 2


async def test_a_receipt_the_esme_refuses_or_leaves_unanswered_comes_again(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    """Sent again until a deliver_sm_resp says ESME_ROK: after ESME_RX_T_APPN (0x64), and
    after a session that closed without answering (to another receiver session)."""
    app, port, ue = await start(start_smsc, scscf)
    open_esme = opener(esmes, port)
    esme = await open_esme("smpplib", "trx")
    assert isinstance(esme, SmpplibEsme)
    esme.deliver_answers = [0x64, None]
    answer = await esme.send_text(text_sm("Again and again", registered_delivery=1))
    assert answer.status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp)
    refused = await esme.next_deliver()
    unanswered = await esme.next_deliver()
    for receipt in (refused, unanswered):
        check_receipt(receipt, answer.message_id, "DELIVRD", 2)
    await esme.drop()
    other = await open_esme("smpplib", "rx")
    check_receipt(await other.next_deliver(), answer.message_id, "DELIVRD", 2)
    with pytest.raises(TimeoutError):  # taken: no more
        await other.next_deliver(timeout=1.5)
    text = await metrics(app)
    outcomes = {
        outcome: sample(
            text, "smsc_smpp_deliver_sm_total", account="mybank", kind="receipt", outcome=outcome
        )
        for outcome in ("ok", "error", "closed")
    }
    assert outcomes == {"ok": 1, "error": 1, "closed": 1}


# --- (f) a receipt waiting for its receiver, across a restart ------------------------------------


async def test_a_receipt_waits_for_a_receiver_across_a_restart(
    tmp_path: Path, scscf: UdpPeer, storage: dict[str, str]
) -> None:
    settings = restart_settings(tmp_path, scscf, storage)
    first = Application(settings)
    await first.start()
    try:
        assert first.smpp is not None
        ((_, port),) = first.smpp.addresses
        sender = SmpplibEsme(port, "mybank", "s3cret")
        assert await sender.bind("tx") == ESME_ROK
        answer = await sender.send_text(text_sm("Kept for later", registered_delivery=1))
        assert answer.status == ESME_ROK
        await sender.close()
        ue = Ue(scscf, first)
        _, rp = await ue.next_mt()
        await ue.answer(rp)

        async def waiting() -> bool:
            text = await metrics(first)
            return sample(text, "smsc_outbox_jobs", kind="smpp-receipt", state="pending") == 1

        await wait_for(waiting, what="the receipt kept in the outbox")
    finally:
        await first.stop()

    second = Application(settings)
    await second.start()
    try:
        assert second.smpp is not None
        receiver = AioEsme(port, "mybank", "s3cret")
        try:
            assert await receiver.bind("rx") == ESME_ROK
            receipt = await receiver.next_deliver()
            check_receipt(receipt, answer.message_id, "DELIVRD", 2)

            async def delivered() -> bool:
                text = await metrics(second)
                return sample(text, "smsc_outbox_jobs", kind="smpp-receipt", state="delivered") == 1

            await wait_for(delivered, what="the receipt recorded delivered")
            with pytest.raises(TimeoutError):  # once
                await receiver.next_deliver(timeout=1.0)
        finally:
            await receiver.close()
    finally:
        await second.stop()


# --- (g) MO to an ESME ---------------------------------------------------------------------------


@library
async def test_an_mo_to_the_esme_s_short_code_waits_for_its_receiver(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    routing = {
        "applications": (ApplicationRoute(name="bank", numbers=("4444",), smpp="mybank"),),
    }
    app, port, ue = await start(start_smsc, scscf, routing=routing)
    text = "BALANCE @ £5 ü?"  # '@' is septet 0x00, '£' 0x01, 'ü' 0x7E
    answer = await ue.send_mo(mo_submit("4444", TypeOfNumber.UNKNOWN, text=text))
    assert isinstance(answer, RpAck)

    async def pending() -> bool:
        found = sample(await metrics(app), "smsc_outbox_jobs", kind="smpp-mo", state="pending")
        return found == 1

    await wait_for(pending, what="the MO kept for the ESME")
    esme = await opener(esmes, port)(library, "rx")
    mo = await esme.next_deliver()
    assert (mo.source_addr, mo.source_addr_ton) == (UE, 1)
    assert mo.destination_addr == "4444"
    assert mo.esm_class == 0 and mo.data_coding == 0
    if mo.short_message is not None:  # smpplib: the octets, one septet each
        assert mo.short_message == smpplib.gsm.gsm_encode(text)
    else:  # aiosmpplib: its gsm0338 codec's reading
        assert mo.text == text

    # with the receiver bound, the next one goes at once
    answer = await ue.send_mo(mo_submit("4444", TypeOfNumber.UNKNOWN, text="STOP", rp_mr=8))
    assert isinstance(answer, RpAck)
    mo = await esme.next_deliver(timeout=5)
    assert mo.text == "STOP" or mo.short_message == b"STOP"


@library
async def test_a_concatenated_mo_reaches_the_esme_segment_by_segment(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme], library: str
) -> None:
    """Each segment is a deliver_sm with UDHI and its UDH (smpplib shows the octets);
    aiosmpplib reassembles them into the message by the concatenation IE."""
    routing = {
        "applications": (ApplicationRoute(name="bank", numbers=("4444",), smpp="mybank"),),
    }
    _, port, ue = await start(start_smsc, scscf, routing=routing)
    esme = await opener(esmes, port)(library, "rx")
    texts = ["Hello ", "bank @ 4444"]
    for sequence, text in enumerate(texts, start=1):
        header = UserDataHeader((concatenation_ie(9, 2, sequence),))
        body = mo_submit("4444", TypeOfNumber.UNKNOWN, text=text, rp_mr=sequence, header=header)
        assert isinstance(await ue.send_mo(body), RpAck)
    if isinstance(esme, SmpplibEsme):
        for sequence, text in enumerate(texts, start=1):
            part = await esme.next_deliver()
            assert part.esm_class == 0x40 and part.data_coding == 0
            udh = bytes((5, 0, 3, 9, 2, sequence))
            assert part.short_message == udh + smpplib.gsm.gsm_encode(text)
    else:
        whole = await esme.next_deliver()
        assert whole.text == "".join(texts)
        assert whole.destination_addr == "4444"


# --- (h) the sessions API ------------------------------------------------------------------------


async def test_the_sessions_api_lists_bound_sessions_and_is_404_without_smpp(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    app, port, _ = await start(start_smsc, scscf)
    open_esme = opener(esmes, port)
    await open_esme("smpplib", "trx")
    await open_esme("aiosmpplib", "rx", "reader", "r3ad")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{http_base(app)}/api/v1/smpp/sessions") as response,
    ):
        assert response.status == 200
        sessions = (await response.json())["sessions"]
    seen = sorted((s["system_id"], s["bind"], s["state"]) for s in sessions)
    assert seen == [("mybank", "trx", "bound_trx"), ("reader", "rx", "bound_rx")]
    for session in sessions:
        assert session["peer"].startswith("127.0.0.1:")
        assert session["bound_at"] and session["opened_at"]

    without: Application = await start_smsc()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{http_base(without)}/api/v1/smpp/sessions") as response,
    ):
        assert response.status == 404


async def test_a_receipt_waits_as_long_as_receipt_validity_h_says(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme | AioEsme]
) -> None:
    """The outbox job of a receipt with no receiver bound expires after
    smpp.receipt_validity_h."""
    app, port, ue = await start(
        start_smsc, scscf, smpp=smpp_section(free_port(), receipt_validity_h=1)
    )
    esme = await opener(esmes, port)("smpplib", "tx")
    answer = await esme.send_text(text_sm("Keep me an hour", registered_delivery=1))
    assert answer.status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp)

    async def kept() -> bool:
        text = await metrics(app)
        return sample(text, "smsc_outbox_jobs", kind="smpp-receipt", state="pending") == 1

    await wait_for(kept, what="the receipt kept in the outbox")
    jobs = [await app.outbox_store.get(job_id) for job_id in range(1, 4)]
    (receipt,) = [job for job in jobs if job is not None and job.job.kind == "smpp-receipt"]
    assert receipt.job.expires_at is not None
    assert receipt.job.expires_at - receipt.job.created_at == timedelta(hours=1)
