"""The summary line: what changed since the last one, read from the real metrics registry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from smsc.api.metrics import Metrics
from smsc.log_summary import SummaryTask, read_registry, summary_line


def test_the_line_counts_only_what_happened_since_the_previous_reading() -> None:
    metrics = Metrics()
    metrics.mt_delivered.inc(5)  # before the first reading: not in the line
    before = read_registry(metrics.registry)
    for _ in range(3):
        metrics.tally(metrics.mo_received, "RP_DATA_MS_TO_N")
    metrics.tally(metrics.mo_received, "RP_SMMA")
    metrics.mo_rejected.labels("96").inc()
    metrics.shed.labels("mo").inc(2)
    metrics.mt_delivered.inc(2)
    metrics.mt_failed.labels("permanent:rp-cause-1").inc()
    metrics.api_submitted.inc(4)
    metrics.charging_results.labels("2001").inc(3)
    metrics.queue_depth.labels("queued").set(7)
    line = summary_line(before, read_registry(metrics.registry), 10.0)
    assert line == (
        "last 10 s: MO 4 (SMS 3, rejected 1, shed 2); "
        "MT delivered 2, failed 1, retried 0, expired 0; API 4; AML received 0, delivered 0; "
        "charging 2001 3; queue: queued 7, delivering 0"
    )


async def test_the_task_logs_a_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    refreshed = []

    async def refresh() -> None:
        refreshed.append(1)
        metrics.queue_depth.labels("queued").set(len(refreshed))

    caplog.set_level(logging.INFO, logger="smsc.summary")
    task = SummaryTask(metrics.registry, 0.05, refresh)
    task.start()
    while not refreshed:  # the first reading is taken
        await asyncio.sleep(0.001)
    metrics.tally(metrics.mo_received, "RP_DATA_MS_TO_N")
    for _ in range(200):
        if len(caplog.records) >= 2:
            break
        await asyncio.sleep(0.01)
    await task.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "smsc.summary"]
    assert len(lines) >= 2
    assert "MO 1 (SMS 1" in lines[0]
    assert "MO 0 (SMS 0" in lines[1]
    assert "queue: queued" in lines[0]


async def test_zero_turns_the_summary_off() -> None:
    task = SummaryTask(Metrics().registry, 0)
    task.start()
    assert task._task is None
    await task.stop()
