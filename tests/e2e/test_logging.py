"""What the log says about real traffic: one DEBUG line per MO with its id, rejections at
WARNING, and no subscriber number in the clear unless logging.show_subscriber_data."""

from __future__ import annotations

import logging

import pytest

from smsc import redact
from tests.e2e.conftest import Starter
from tests.e2e.peer import udp_peer
from tests.e2e.test_mo_mt import MO_BODY, UE, mo_over_udp

NUMBER = UE.removeprefix("tel:")


@pytest.fixture(autouse=True)
def masked() -> None:
    redact.show_subscriber_data(False)


async def test_an_mo_is_logged_at_debug_with_its_id_and_masked_numbers(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsc")
    app = await start_smsc()
    peer = await udp_peer()
    try:
        response, _ = await mo_over_udp(peer, app, MO_BODY)
        assert response.status == 202
    finally:
        peer.close()
    [stored] = [
        r.getMessage() for r in caplog.records if "stored and acknowledged" in r.getMessage()
    ]
    [row] = await app.store.waiting_for("0600000000", 10)
    assert stored.startswith(f"MO message {row.id} from +*********001 to +*******000 ")
    assert stored.endswith(": <4 characters>")  # 'Test', masked
    assert all(NUMBER not in r.getMessage() for r in caplog.records)


async def test_a_refused_mo_is_a_warning(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smsc")
    app = await start_smsc()
    peer = await udp_peer()
    try:
        await mo_over_udp(peer, app, bytes.fromhex("0501"))
    finally:
        peer.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("refused: RP-ERROR, RP-Cause 96" in line for line in warnings), warnings
    assert all(NUMBER not in r.getMessage() for r in caplog.records)


async def test_numbers_and_text_are_shown_when_the_operator_allows_it(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsc")
    redact.show_subscriber_data(True)
    app = await start_smsc()
    peer = await udp_peer()
    try:
        await mo_over_udp(peer, app, MO_BODY)
    finally:
        peer.close()
        redact.show_subscriber_data(False)
    [stored] = [r.getMessage() for r in caplog.records if "stored and ack" in r.getMessage()]
    assert f"from {NUMBER} to +0600000000" in stored
    assert stored.endswith(": 'Test'")
