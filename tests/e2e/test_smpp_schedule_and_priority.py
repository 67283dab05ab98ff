"""Scheduled delivery (SMPP 3.4 §5.2.15), priority (§5.2.14) and cancel_sm (§4.9) end to end,
over real TCP with three ESME codecs (smpplib, aiosmpplib, Jasmin's smpp.pdu3) and the test
S-CSCF/UE over UDP: a scheduled SMS is held until its time while later ones pass it, survives a
restart, and is receipted; a priority SMS tries a parked subscriber at once; cancel_sm withdraws
what is pending and nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from smsc.app import Application
from tests.e2e.conftest import Starter, http_base
from tests.e2e.jasmin_esme import JasminEsme
from tests.e2e.peer import UdpPeer
from tests.e2e.smpp_clients import ESME_ROK, Sm, SmpplibEsme
from tests.e2e.test_smpp import (
    UE,
    Ue,
    check_receipt,
    deliver_of,
    library,
    metrics,
    opener,
    restart_settings,
    sample,
    start,
    text_sm,
)

ENROUTE = 1
DELIVERED = 2


async def message_status(app: Application, message_id: str) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{http_base(app)}/api/v1/messages/{message_id}") as response,
    ):
        assert response.status == 200
        status: dict[str, object] = await response.json()
        return status


@library
async def test_a_scheduled_sms_waits_for_its_time_and_lets_later_ones_pass(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme], library: str
) -> None:
    app, port, ue = await start(start_smsc, scscf)
    open_esme = opener(esmes, port)
    esme = await open_esme(library, "trx")
    sent_at = time.monotonic()
    later = await esme.send_text(text_sm("See you at three", registered_delivery=1, schedule_s=3))
    assert later.status == ESME_ROK
    now = await esme.send_text(text_sm("Right now"))
    assert now.status == ESME_ROK

    _, rp = await ue.next_mt()
    assert deliver_of(rp).user_data.text == "Right now"  # not held up by the scheduled one
    await ue.answer(rp)
    status = await message_status(app, later.message_id)
    assert status["state"] == "scheduled"
    assert isinstance(status["deliver_at"], str)
    query = esme if isinstance(esme, SmpplibEsme) else await open_esme("smpplib", "tx")
    assert isinstance(query, SmpplibEsme)
    source = {"source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "MyBank"}
    assert await query.query(later.message_id, **source) == (ESME_ROK, ENROUTE, 0)

    _, rp = await ue.next_mt(timeout=10)
    waited = time.monotonic() - sent_at
    assert deliver_of(rp).user_data.text == "See you at three"
    assert waited >= 2.95, f"arrived {waited:.2f} s after the submit, scheduled 3 s later"
    await ue.answer(rp)
    receipt = await esme.next_deliver()
    check_receipt(receipt, later.message_id, "DELIVRD", DELIVERED)
    assert await query.query(later.message_id, **source) == (ESME_ROK, DELIVERED, 0)
    assert sample(await metrics(app), "smsc_mt_scheduled_due_total") == 1.0


async def test_a_scheduled_sms_waits_across_a_restart(
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
        sent_at = time.monotonic()
        answer = await sender.send_text(text_sm("After the restart", schedule_s=4))
        assert answer.status == ESME_ROK
        await sender.close()
    finally:
        await first.stop()

    second = Application(settings)
    await second.start()
    try:
        assert (await message_status(second, answer.message_id))["state"] == "scheduled"
        ue = Ue(scscf, second)
        _, rp = await ue.next_mt(timeout=15)
        assert deliver_of(rp).user_data.text == "After the restart"
        assert time.monotonic() - sent_at >= 3.95
        await ue.answer(rp)
    finally:
        await second.stop()


# --- priority_flag -------------------------------------------------------------------------------


@library
async def test_a_priority_sms_tries_a_parked_subscriber_at_once(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme], library: str
) -> None:
    """RP-Cause 22 (memory capacity exceeded) parks the subscriber's queue until RP-SMMA. A
    further SMS waits behind it; a priority one (priority_flag 1, GSM SM-RP-PRI) makes the
    SMSC try again at once: the parked SMS first, in order, then the priority one."""
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)(library, "tx")
    assert (await esme.send_text(text_sm("First"))).status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp, cause=22)
    assert (await esme.send_text(text_sm("Bulk"))).status == ESME_ROK
    await ue.quiet(1.5)  # parked: nothing until RP-SMMA

    assert (await esme.send_text(text_sm("Your code is 1234", priority=1))).status == ESME_ROK
    texts = []
    for _ in range(3):
        _, rp = await ue.next_mt(timeout=5)
        texts.append(deliver_of(rp).user_data.text)
        await ue.answer(rp)
    assert texts == ["First", "Bulk", "Your code is 1234"]
    assert sample(await metrics(app), "smsc_mt_released_total") == 1.0  # the parked head


async def test_a_scheduled_priority_sms_tries_a_parked_subscriber_at_its_time(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme]
) -> None:
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "tx")
    assert (await esme.send_text(text_sm("First"))).status == ESME_ROK
    _, rp = await ue.next_mt()
    await ue.answer(rp, cause=22)  # parked
    sent_at = time.monotonic()
    answer = await esme.send_text(text_sm("Reminder", priority=2, schedule_s=2))
    assert answer.status == ESME_ROK
    _, rp = await ue.next_mt(timeout=10)
    assert deliver_of(rp).user_data.text == "First"  # released when the reminder came due
    assert time.monotonic() - sent_at >= 1.95
    await ue.answer(rp)
    _, rp = await ue.next_mt(timeout=5)
    assert deliver_of(rp).user_data.text == "Reminder"
    await ue.answer(rp)
    text = await metrics(app)
    assert sample(text, "smsc_mt_scheduled_due_total") == 1.0
    assert sample(text, "smsc_mt_released_total") == 1.0


# --- cancel_sm -----------------------------------------------------------------------------------

ESME_RCANCELFAIL = 0x11
DELETED = 4
BANK_NAME = (5, "MyBank")


async def test_cancel_sm_withdraws_a_pending_sms_and_nothing_else(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme]
) -> None:
    """Submitted with smpplib, cancelled with Jasmin's codec (smpp.pdu3): a scheduled SMS is
    withdrawn (query_sm DELETED, the API `cancelled`, never delivered); a delivered one, another
    account's, one with another source_addr, or an unknown id is ESME_RCANCELFAIL."""
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "trx")
    assert isinstance(esme, SmpplibEsme)
    later = await esme.send_text(text_sm("Campaign", registered_delivery=1, schedule_s=3))
    done = await esme.send_text(text_sm("Already there"))
    _, rp = await ue.next_mt()
    await ue.answer(rp)

    canceller = JasminEsme(port)
    other = JasminEsme(port)
    try:
        assert await canceller.bind_transmitter("mybank", "s3cret") == ESME_ROK
        assert await other.bind_transmitter("slow", "sl0w") == ESME_ROK
        assert await other.cancel(later.message_id, BANK_NAME) == ESME_RCANCELFAIL
        assert await canceller.cancel(later.message_id, (5, "OtherBank")) == ESME_RCANCELFAIL
        assert await canceller.cancel(later.message_id, BANK_NAME, (1, "491710000002")) == (
            ESME_RCANCELFAIL
        )
        assert await canceller.cancel(done.message_id, BANK_NAME) == ESME_RCANCELFAIL
        assert await canceller.cancel("0" * 32, BANK_NAME) == ESME_RCANCELFAIL
        assert await canceller.cancel(later.message_id, BANK_NAME, (1, UE)) == ESME_ROK
        assert await canceller.cancel(later.message_id, BANK_NAME) == ESME_RCANCELFAIL  # once
    finally:
        await canceller.close()
        await other.close()

    source = {"source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "MyBank"}
    assert (await esme.query(later.message_id, **source))[:2] == (ESME_ROK, DELETED)
    assert (await message_status(app, later.message_id))["state"] == "cancelled"
    await ue.quiet(4.0)  # past its time: not delivered
    text = await metrics(app)
    assert sample(text, "smsc_smpp_cancels_total", account="mybank", outcome="ok") == 1.0
    assert sample(text, "smsc_smpp_cancels_total", account="mybank", outcome="refused") == 5.0
    assert sample(text, "smsc_mt_scheduled_due_total") in (None, 0.0)


# --- replace_sm ----------------------------------------------------------------------------------

ESME_RREPLACEFAIL = 0x13


async def test_replace_sm_gives_a_pending_sms_new_text(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme]
) -> None:
    """Submitted with smpplib, replaced with Jasmin's codec: the scheduled SMS arrives at its
    time with the new text and the receipt asked for in replace_sm; a delivered one, another
    account's, or another source_addr is ESME_RREPLACEFAIL."""
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "trx")
    assert isinstance(esme, SmpplibEsme)
    sent_at = time.monotonic()
    later = await esme.send_text(text_sm("Meeting at 10", schedule_s=3))
    done = await esme.send_text(text_sm("Already there"))
    _, rp = await ue.next_mt()
    await ue.answer(rp)

    replacer = JasminEsme(port)
    other = JasminEsme(port)
    try:
        assert await replacer.bind_transmitter("mybank", "s3cret") == ESME_ROK
        assert await other.bind_transmitter("slow", "sl0w") == ESME_ROK
        new = b"Meeting at 11"
        assert await other.replace(later.message_id, BANK_NAME, new) == ESME_RREPLACEFAIL
        assert await replacer.replace(later.message_id, (5, "Other"), new) == ESME_RREPLACEFAIL
        assert await replacer.replace(done.message_id, BANK_NAME, new) == ESME_RREPLACEFAIL
        assert await replacer.replace(
            later.message_id, BANK_NAME, new, registered_delivery=True
        ) == (ESME_ROK)
    finally:
        await replacer.close()
        await other.close()

    _, rp = await ue.next_mt(timeout=10)
    assert deliver_of(rp).user_data.text == "Meeting at 11"
    assert time.monotonic() - sent_at >= 2.95  # still at its time
    await ue.answer(rp)
    receipt = await esme.next_deliver()
    text = check_receipt(receipt, later.message_id, "DELIVRD", DELIVERED)
    assert "text:Meeting at 11" in text
    metrics_text = await metrics(app)
    assert sample(metrics_text, "smsc_smpp_replaces_total", account="mybank", outcome="ok") == 1.0
    assert (
        sample(metrics_text, "smsc_smpp_replaces_total", account="mybank", outcome="refused") == 2.0
    )


async def test_cancel_sm_without_message_id_withdraws_all_to_one_subscriber(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme]
) -> None:
    """§4.9.1: no message_id, source_addr and destination_addr: every pending SMS of this
    account from that sender to that subscriber, and nothing else."""
    app, port, _ = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "trx")
    assert isinstance(esme, SmpplibEsme)
    first = await esme.send_text(text_sm("Offer 1", schedule_s=30))
    second = await esme.send_text(text_sm("Offer 2", schedule_s=30))
    elsewhere = await esme.send_text(Sm(text="Offer 3", destination="491710000009", schedule_s=30))
    canceller = JasminEsme(port)
    try:
        assert await canceller.bind_transmitter("mybank", "s3cret") == ESME_ROK
        to_ue = (1, UE)
        assert await canceller.cancel("", BANK_NAME, to_ue, service_type="CMT") == ESME_RCANCELFAIL
        assert await canceller.cancel("", BANK_NAME) == ESME_RCANCELFAIL  # no destination
        assert await canceller.cancel("", BANK_NAME, to_ue) == ESME_ROK
        assert await canceller.cancel("", BANK_NAME, to_ue) == ESME_RCANCELFAIL  # none left
    finally:
        await canceller.close()
    source = {"source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "MyBank"}
    for answer in (first, second):
        assert (await esme.query(answer.message_id, **source))[:2] == (ESME_ROK, DELETED)
        assert (await message_status(app, answer.message_id))["state"] == "cancelled"
    assert (await message_status(app, elsewhere.message_id))["state"] == "scheduled"


# --- replace_if_present_flag ---------------------------------------------------------------------


async def test_a_submit_with_replace_if_present_replaces_the_pending_one(
    start_smsc: Starter, scscf: UdpPeer, esmes: list[SmpplibEsme]
) -> None:
    """§5.2.18: the account's SMS from the same sender to the same subscriber, still pending,
    is cancelled once the new one is kept; the handset gets the new one only."""
    app, port, ue = await start(start_smsc, scscf)
    esme = await opener(esmes, port)("smpplib", "tx")
    assert isinstance(esme, SmpplibEsme)
    old = await esme.send_text(text_sm("Parcel: packed", schedule_s=2))
    fields = {
        "source_addr_ton": 5,
        "source_addr_npi": 0,
        "source_addr": "MyBank",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": UE,
        "data_coding": 0,
        "short_message": b"Parcel: shipped",
        "replace_if_present_flag": 1,
    }
    new = await esme.submit(**fields)
    assert (old.status, new.status) == (ESME_ROK, ESME_ROK)
    assert new.message_id != old.message_id
    assert (await message_status(app, old.message_id))["state"] == "cancelled"
    _, rp = await ue.next_mt()
    assert deliver_of(rp).user_data.text == "Parcel: shipped"
    await ue.answer(rp)
    await ue.quiet(3.0)  # past the old one's time: it does not come
