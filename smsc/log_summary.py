"""The INFO summary line every `logging.summary_s`: what the service did since the last one,
read from the metrics registry (nothing is counted twice, nothing added to the hot path)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from smsc.errors import SmscError

log = logging.getLogger("smsc.summary")

Reading = dict[str, float]
"""Counter totals by name (and by one label where the line splits them), at one moment."""

_COUNTED = {
    "smsc_mo_received": "type",
    "smsc_mo_rejected": None,
    "smsc_shed": None,
    "smsc_mt_delivered": None,
    "smsc_mt_failed": None,
    "smsc_mt_retries": None,
    "smsc_mt_expired": None,
    "smsc_api_submitted": None,
    "smsc_aml_received": None,
    "smsc_aml_delivered": None,
    "smsc_charging_results": "code",
}
_GAUGES = {"smsc_queue_depth": "state"}


def read_registry(registry: CollectorRegistry) -> Reading:
    """The totals the summary needs (reading the registry applies the metrics' tallies)."""
    totals: Reading = {}
    for metric in registry.collect():
        name = metric.name
        split = _COUNTED.get(name, _GAUGES.get(name))
        if name not in _COUNTED and name not in _GAUGES:
            continue
        for sample in metric.samples:
            if sample.name.endswith("_created"):
                continue
            key = name if split is None else f"{name}:{sample.labels.get(split, '')}"
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def _delta(now: Mapping[str, float], before: Mapping[str, float], key: str) -> int:
    return round(now.get(key, 0.0) - before.get(key, 0.0))


def summary_line(before: Mapping[str, float], now: Mapping[str, float], seconds: float) -> str:
    """One line of what changed between two readings."""
    mo = {
        key.split(":", 1)[1]: _delta(now, before, key)
        for key in now
        if key.startswith("smsc_mo_received:")
    }
    mo_total = sum(mo.values())
    sms = sum(n for kind, n in mo.items() if kind.startswith("RP_DATA"))
    charging = {
        key.split(":", 1)[1]: _delta(now, before, key)
        for key in now
        if key.startswith("smsc_charging_results:")
    }
    charged = ", ".join(f"{code} {n}" for code, n in sorted(charging.items()) if n) or "none"
    depth = {
        key.split(":", 1)[1]: round(now[key]) for key in now if key.startswith("smsc_queue_depth:")
    }
    return (
        f"last {seconds:.0f} s: MO {mo_total} (SMS {sms}, "
        f"rejected {_delta(now, before, 'smsc_mo_rejected')}, "
        f"shed {_delta(now, before, 'smsc_shed')}); "
        f"MT delivered {_delta(now, before, 'smsc_mt_delivered')}, "
        f"failed {_delta(now, before, 'smsc_mt_failed')}, "
        f"retried {_delta(now, before, 'smsc_mt_retries')}, "
        f"expired {_delta(now, before, 'smsc_mt_expired')}; "
        f"API {_delta(now, before, 'smsc_api_submitted')}; "
        f"AML received {_delta(now, before, 'smsc_aml_received')}, "
        f"delivered {_delta(now, before, 'smsc_aml_delivered')}; "
        f"charging {charged}; "
        f"queue: queued {depth.get('queued', 0)}, delivering {depth.get('delivering', 0)}"
    )


@dataclass
class SummaryTask:
    """Logs `summary_line` every `interval_s` until stopped."""

    registry: CollectorRegistry
    interval_s: float
    refresh: Callable[[], Awaitable[None]] | None = None
    """Brings gauges (queue depth) up to date before each reading."""

    def __post_init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="log-summary")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _reading(self) -> Reading:
        if self.refresh is not None:
            await self.refresh()
        return read_registry(self.registry)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        before, since = await self._reading(), loop.time()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                now = await self._reading()
            except SmscError as exc:  # the store is down: say so, keep counting
                log.warning("summary: cannot read the queue depth: %s", exc)
                continue
            at = loop.time()
            log.info("%s", summary_line(before, now, at - since))
            before, since = now, at
