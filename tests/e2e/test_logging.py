"""What the log says about real traffic: one DEBUG line per MO with its id, rejections at
WARNING, and no subscriber number in the clear unless logging.show_subscriber_data."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import aiohttp
import pytest

from smsc import redact
from smsc.log_setup import WarningFloodFilter
from tests.e2e.conftest import Starter, sip_port
from tests.e2e.peer import message_request, udp_peer
from tests.e2e.test_delivery import FAST, next_mt, rp_answer, submit_api, wait_state
from tests.e2e.test_mo_mt import MO_BODY, PSI, UE, mo_over_udp
from tests.e2e.test_register import register

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
    [row] = await app.store.waiting_for("49600000000", 10)  # 0600000000 in the dialling plan
    assert stored.startswith(f"MO message {row.id} from +*********001 to +********000 ")
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
    assert f"from {NUMBER} to +49600000000" in stored
    assert stored.endswith(": 'Test'")


async def test_each_mt_attempt_and_what_became_of_it_is_logged_at_debug(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsc.mt")
    scscf = await udp_peer()
    try:
        app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
        ue = "491710000012"
        async with aiohttp.ClientSession() as http:
            message = await submit_api(http, app, ue)
            data = await next_mt(scscf)
            await rp_answer(scscf, app, ue, data.message_reference, cause=41)
            data = await next_mt(scscf)
            await rp_answer(scscf, app, ue, data.message_reference)
            await wait_state(http, app, message, "delivered")
    finally:
        scscf.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "smsc.mt"]
    masked = r"\+\*{9}012"
    patterns = (
        rf"MT message (\d+) attempt 1 to {masked} via 127\.0\.0\.1:\d+, RP-MR \d+",
        rf"MT message \1 to {masked}: rp-error \(SIP 200, RP-Cause 41\): retry at \S+",
        rf"MT message \1 attempt 2 to {masked} via 127\.0\.0\.1:\d+, RP-MR \d+",
        rf"MT message \1 to {masked}: delivered \(SIP 200, RP-Cause None\): done",
    )
    assert re.fullmatch("\n".join(patterns), "\n".join(lines)), lines


@pytest.fixture
def folded() -> Iterator[io.StringIO]:
    """What a handler with the flood filter (two per template) writes of smsc's warnings."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.addFilter(WarningFloodFilter(burst=2, interval_s=3600))
    logger = logging.getLogger("smsc")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


async def test_sip_refusals_are_warnings_folded_per_status(
    start_smsc: Starter, folded: io.StringIO
) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    via = f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
    try:
        for _ in range(4):
            request, _ = message_request(
                uri=PSI, sender=UE, body=MO_BODY, via=via, content_type="text/plain"
            )
            peer.send(request, ("127.0.0.1", sip_port(app)))
            assert (await peer.next()).status == 415
        request, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via, pai=False)
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 403
        peer.send(b"MESSAGE sip:x SIP/2.0\r\nVia: " + via.encode() + b";branch=z9hG4bK-1\r\n"
                  b"Call-ID: x\r\nCSeq: nonsense\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
                  b"Content-Length: 0\r\n\r\n", ("127.0.0.1", sip_port(app)))  # fmt: skip
        assert (await peer.next()).status == 400
    finally:
        peer.close()
    lines = folded.getvalue().splitlines()
    source = f"127.0.0.1:{peer.port}"
    assert lines.count(f"SIP request from {source} refused: 415 Unsupported Media Type") == 2
    assert (
        f"SIP request from {source} refused: 403 Forbidden: no MSISDN in P-Asserted-Identity"
        in (lines)
    )
    assert f"malformed SIP message from {source} refused: 400 Bad CSeq" in lines


async def test_an_untrusted_source_is_a_warning(start_smsc: Starter, folded: io.StringIO) -> None:
    app = await start_smsc(sip={"trusted_peers": ("10.0.0.0/8",)})
    peer = await udp_peer()
    try:
        request, _ = message_request(
            uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 403
    finally:
        peer.close()
    [line] = [line for line in folded.getvalue().splitlines() if "untrusted" in line]
    assert line.startswith(f"SIP message from untrusted source 127.0.0.1:{peer.port} refused")


async def test_a_registration_is_logged_at_debug_with_the_impu_masked(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsc.sip")
    app = await start_smsc()
    scscf = await udp_peer()
    try:
        assert (await register(scscf, sip_port(app), 600)).status == 200
    finally:
        scscf.close()
    registered = [r.getMessage() for r in caplog.records if "registration of" in r.getMessage()]
    assert registered == [f"registration of +*********021 via sip:127.0.0.1:{scscf.port} for 600 s"]
