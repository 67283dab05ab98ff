"""Submission ids: 32 hex digits from the OS's CSPRNG, drawn from a pool refilled 4 KiB at a
time; none repeats across refills."""

from __future__ import annotations

import string
from unittest import mock

from smsc.service import model
from smsc.service.model import new_submission_id


def test_ids_are_32_hex_digits_and_do_not_repeat_across_refills() -> None:
    ids = [new_submission_id() for _ in range(3 * 256 + 7)]  # 256 ids per 4 KiB
    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_pool_is_read_from_os_urandom_once_per_256_ids() -> None:
    model._id_pool.clear()
    with mock.patch.object(model.os, "urandom", wraps=model.os.urandom) as urandom:
        for _ in range(256):
            new_submission_id()
        assert urandom.call_count == 1
        new_submission_id()
        assert urandom.call_count == 2
    assert urandom.call_args.args == (4096,)
