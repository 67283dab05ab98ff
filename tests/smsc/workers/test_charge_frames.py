"""Charging asked of the main process by a worker: frame bodies and the worker's charger."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charging.ccr import AddressType, SmsChargingEvent
from charging.client import ChargeResult, Unreachable
from charging.errors import ChargingUnavailable
from charging.results import DeliverFree, Proceed, Reject
from smsc.sms.constants import RpCause
from smsc.workers.charge_frames import (
    decode_event,
    decode_result,
    encode_event,
    encode_failure,
    encode_result,
)
from smsc.workers.frames import Charging, FrameError, FrameKind, decode, encode
from smsc.workers.remote_charger import RemoteCharger

texts = st.text(max_size=40)
events = st.builds(
    SmsChargingEvent,
    charged_msisdn=st.from_regex(r"[0-9]{1,15}", fullmatch=True),
    recipient=texts,
    calling_party_address=texts,
    called_party_address=texts,
    recipient_type=st.sampled_from(AddressType),
    imsi=st.none() | st.from_regex(r"[0-9]{15}", fullmatch=True),
    segments=st.integers(1, 255),
    dcs=st.integers(0, 255),
    pid=st.integers(0, 255),
    udh=st.none() | st.binary(max_size=20),
    reply_path=st.booleans(),
    pani=st.none() | texts,
)
outcomes = st.sampled_from(
    [
        Proceed(),
        DeliverFree(),
        Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True),
        Reject(RpCause.TEMPORARY_FAILURE, False),
        Unreachable("continue", "timeout"),
        Unreachable("terminate", "no peer"),
    ]
)
results = st.builds(
    ChargeResult,
    outcome=outcomes,
    session_id=texts,
    result_code=st.none() | st.integers(1000, 5999),
    granted_units=st.none() | st.integers(0, 2**32),
    peer=st.none() | texts,
    retransmitted=st.booleans(),
    latency_s=st.floats(0, 10),
    ccr=st.none() | st.binary(max_size=64),
)
ids = st.integers(0, 2**32 - 1)


@given(ids, events)
def test_an_event_round_trips(request_id: int, event: SmsChargingEvent) -> None:
    assert decode_event(encode_event(request_id, event)) == (request_id, event)


@given(ids, results)
def test_a_result_round_trips(request_id: int, result: ChargeResult) -> None:
    assert decode_result(encode_result(request_id, result)) == (request_id, result)


def test_a_failure_reads_as_charging_unavailable() -> None:
    request_id, failure = decode_result(encode_failure(7, "not running"))
    assert request_id == 7
    assert isinstance(failure, ChargingUnavailable)
    assert "not running" in str(failure)


@given(st.binary(max_size=80))
def test_any_octets_are_a_frame_error_or_a_value(body: bytes) -> None:
    for read in (decode_event, decode_result):
        with contextlib.suppress(FrameError):  # anything else escaping fails the test
            read(body)


@pytest.mark.parametrize(
    "document",
    [
        {"outcome": {"kind": "maybe"}},
        {"outcome": {"kind": "reject", "rp_cause": 9999, "permanent": True}},
        {"outcome": {"kind": "unreachable", "policy": "later", "reason": "x"}},
        {"outcome": {"kind": "proceed"}, "session_id": 5},
        {"outcome": {"kind": "proceed"}, "session_id": "s", "retransmitted": "yes"},
        {
            "outcome": {"kind": "proceed"},
            "session_id": "s",
            "retransmitted": False,
            "latency_s": 0.1,
            "ccr": "zz",
        },
        [],
    ],
)
def test_a_malformed_result_is_a_frame_error(document: object) -> None:
    body = (1).to_bytes(4, "big") + json.dumps(document).encode()
    with pytest.raises(FrameError):
        decode_result(body)


def test_charging_frames_pass_through_the_frame_codec() -> None:
    frame = Charging(FrameKind.CHARGE, b"\x00\x00\x00\x01{}")
    assert decode(encode(frame)) == frame


RESULT = ChargeResult(
    outcome=Proceed(),
    session_id="s;1",
    result_code=2001,
    granted_units=1,
    peer="ocs",
    retransmitted=False,
    latency_s=0.001,
)
EVENT = SmsChargingEvent(
    charged_msisdn="4917", recipient="4916", calling_party_address="", called_party_address=""
)


async def test_the_remote_charger_awaits_the_main_process() -> None:
    sent: list[tuple[FrameKind, bytes]] = []
    charger = RemoteCharger(wait_s=5)
    charger.attach(lambda kind, body: sent.append((kind, body)) is None)
    task = asyncio.create_task(charger.charge(EVENT))
    await asyncio.sleep(0)
    [(kind, body)] = sent
    request_id, event = decode_event(body)
    assert (kind, event) == (FrameKind.CHARGE, EVENT)
    charger.answered(encode_result(request_id, RESULT))
    assert await task == RESULT
    assert charger.in_flight == 0


async def test_the_remote_charger_fails_without_the_main_process() -> None:
    charger = RemoteCharger(wait_s=5)
    with pytest.raises(ChargingUnavailable):  # not attached yet
        await charger.charge(EVENT)
    charger.attach(lambda kind, body: False)  # the channel is closed
    with pytest.raises(ChargingUnavailable, match="gone"):
        await charger.charge(EVENT)
    charger.attach(lambda kind, body: True)
    task = asyncio.create_task(charger.charge(EVENT))
    await asyncio.sleep(0)
    charger.channel_closed()
    with pytest.raises(ChargingUnavailable, match="gone"):
        await task
    quick = RemoteCharger(wait_s=0.05)
    quick.attach(lambda kind, body: True)
    with pytest.raises(ChargingUnavailable, match="no charging result"):
        await quick.charge(EVENT)
    charger.answered(b"garbage")  # logged, nothing else
    charger.answered(encode_result(12345, RESULT))  # nobody waits for it
