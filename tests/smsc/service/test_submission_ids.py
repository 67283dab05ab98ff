"""Submission ids: 32 hex digits, the time in milliseconds then 80 random bits from the OS's
CSPRNG, drawn from a pool refilled 4 KB at a time; none repeats across refills, and they sort
by time."""

from __future__ import annotations

import string
import time
from unittest import mock

from smsc.service import model
from smsc.service.model import new_submission_id


def test_ids_are_32_hex_digits_and_do_not_repeat_across_refills() -> None:
    ids = [new_submission_id() for _ in range(3 * 400 + 7)]  # 400 ids per 4,000 octets
    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)
    assert len(set(ids)) == len(ids)
    assert len({i[12:] for i in ids}) == len(ids)  # the random part alone is unique


def test_ids_begin_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    first = new_submission_id()
    time.sleep(0.002)
    second = new_submission_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(first[:12], 16) < int(second[:12], 16) <= after
    assert first < second  # the submission_id index grows at its end


def test_the_pool_is_read_from_os_urandom_once_per_400_ids() -> None:
    model._id_pool.clear()
    with mock.patch.object(model.os, "urandom", wraps=model.os.urandom) as urandom:
        for _ in range(400):
            new_submission_id()
        assert urandom.call_count == 1
        new_submission_id()
        assert urandom.call_count == 2
    assert urandom.call_args.args == (4000,)
