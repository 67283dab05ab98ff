"""Sans-IO MT relay: RP-MR allocation, one transfer per recipient, RP answers, TR1M."""

from __future__ import annotations

import pytest

from smsc.relay import MtRelay, RecipientBusyError, TransferOutcome


def test_rp_ack_with_the_right_mr_delivers() -> None:
    relay = MtRelay(tr1m=40.0)
    transfer = relay.start("4917", 1, now=100.0)
    assert relay.busy("4917")
    assert relay.sip_final("4917", 1, 200) is None  # a 2xx alone is not delivery
    assert relay.rp_ack("4917", (transfer.rp_mr + 1) % 256) is None
    result = relay.rp_ack("4917", transfer.rp_mr)
    assert result is not None
    assert result.outcome == TransferOutcome.DELIVERED
    assert result.transfer.sip_status == 200
    assert not relay.busy("4917")
    assert relay.rp_ack("4917", transfer.rp_mr) is None  # a duplicated RP-ACK changes nothing


def test_one_transfer_per_recipient_and_distinct_mrs() -> None:
    relay = MtRelay()
    a = relay.start("1", 1, 0.0)
    b = relay.start("2", 2, 0.0)
    assert a.rp_mr != b.rp_mr
    with pytest.raises(RecipientBusyError):
        relay.start("1", 3, 0.0)


def test_rp_error_carries_the_cause() -> None:
    relay = MtRelay()
    transfer = relay.start("1", 1, 0.0)
    result = relay.rp_error("1", transfer.rp_mr, 22)
    assert result is not None
    assert (result.outcome, result.rp_cause) == (TransferOutcome.RP_ERROR, 22)


def test_sip_failure_ends_the_transfer() -> None:
    relay = MtRelay()
    relay.start("1", 7, 0.0)
    assert relay.sip_final("1", 8, 480) is None  # another message's response
    result = relay.sip_final("1", 7, 480)
    assert result is not None
    assert result.outcome == TransferOutcome.SIP_FAILURE
    assert not relay.busy("1")


def test_tr1m_expiry() -> None:
    relay = MtRelay(tr1m=40.0)
    relay.start("1", 1, 0.0)
    relay.start("2", 2, 10.0)
    assert relay.next_deadline() == 40.0
    assert relay.expire(39.9) == []
    expired = relay.expire(40.0)
    assert [r.transfer.recipient for r in expired] == ["1"]
    assert expired[0].outcome == TransferOutcome.TIMEOUT
    assert relay.next_deadline() == 50.0
    assert len(relay) == 1


def test_rp_mr_wraps_at_256() -> None:
    relay = MtRelay()
    mrs = []
    for i in range(300):
        transfer = relay.start(str(i), i, 0.0)
        mrs.append(transfer.rp_mr)
    assert max(mrs) == 255
    assert mrs[256] == 0
