"""Prometheus metrics of one running service, and GET /metrics."""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Self, TypedDict, cast

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    Metric,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from smsc import __version__
from smsc.errors import SmscError
from smsc.version import SIP_IMPLEMENTATION


class _CachedLabels:
    """`labels(*values)` answered from a dict after the first call (prometheus_client takes
    ~9 µs per call: validation, a lock, and a dict of its own); keyword labels go the long way.
    """

    __slots__ = ()

    def labels(self, *values: object, **by_name: object) -> Self:
        if by_name:
            return cast(Self, super().labels(*values, **by_name))  # type: ignore[misc]
        cache: dict[tuple[object, ...], Self] | None = self.__dict__.get("_labels_cache")
        if cache is None:
            cache = self.__dict__["_labels_cache"] = {}
        child = cache.get(values)
        if child is None:
            child = cache[values] = cast(Self, super().labels(*values))  # type: ignore[misc]
        return child


class CachedCounter(_CachedLabels, Counter):
    """A Counter whose labelled children are cached."""


class CachedGauge(_CachedLabels, Gauge):
    """A Gauge whose labelled children are cached."""


class _Settle:
    """Registered first: every read of the registry applies the tallies before the counters."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        self._metrics.settle()
        return []


class SnapshotError(SmscError):
    """A worker's metrics snapshot that is not in the shape `Metrics.snapshot` makes."""


class SnapshotFamily(TypedDict):
    """One metric family of a snapshot: its type, its help, and `[sample name, labels, value]`s."""

    type: str
    help: str
    samples: list[tuple[str, dict[str, str], float]]


# What a worker process sends the main one (`Metrics.snapshot`), by family name, e.g.
# {"smsc_mo_received": {"type": "counter", "help": "...",
#   "samples": [["smsc_mo_received_total", {"type": "RP_DATA_MS_TO_N"}, 3.0]]}};
# JSON-serialisable; JSON turns the tuples into lists, which `Metrics.merge_remote` takes too.
Snapshot = dict[str, SnapshotFamily]

_LOCAL_ONLY_PREFIXES = ("process_", "python_")
"""Families of ProcessCollector, PlatformCollector and GCCollector: each process's own."""
_LOCAL_ONLY_NAMES = frozenset({"smsc_build"})
"""Families that are the same in every process, never summed."""
_CUMULATIVE = frozenset({"counter", "histogram", "summary"})
"""Family types whose samples only grow, kept (as departed totals) after their source exits."""

_SampleKey = tuple[str, tuple[tuple[str, str], ...]]


class _Family:
    """Values of one family's samples, by sample name and sorted labels."""

    __slots__ = ("help", "type", "values")

    def __init__(self, typ: str, help_: str) -> None:
        self.type = typ
        self.help = help_
        self.values: dict[_SampleKey, float] = {}

    def add(self, other: _Family) -> None:
        """Add `other`'s values to these."""
        values = self.values
        for key, value in other.values.items():
            values[key] = values.get(key, 0.0) + value


def _local_only(name: str) -> bool:
    """Whether the family `name` belongs to one process and is neither sent nor summed."""
    return name.startswith(_LOCAL_ONLY_PREFIXES) or name in _LOCAL_ONLY_NAMES


def _parse_snapshot(snapshot: Mapping[str, SnapshotFamily]) -> dict[str, _Family]:
    """The families of `snapshot` (as made by `Metrics.snapshot`, maybe through JSON);
    SnapshotError if it is not that shape."""
    families: dict[str, _Family] = {}
    try:
        for name, family in snapshot.items():
            if _local_only(name):
                continue
            parsed = _Family(str(family["type"]), str(family["help"]))
            values = parsed.values
            for sample_name, labels, value in family["samples"]:
                key = (
                    str(sample_name),
                    tuple(sorted((str(k), str(v)) for k, v in labels.items())),
                )
                values[key] = values.get(key, 0.0) + float(value)
            families[str(name)] = parsed
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"not a metrics snapshot: {type(exc).__name__}: {exc}") from exc
    return families


class _Merged(Collector):
    """The registry's families with the remote sums added, for `generate_latest`."""

    def __init__(self, registry: CollectorRegistry, totals: dict[str, _Family]) -> None:
        self._registry = registry
        self._totals = totals

    def collect(self) -> Iterable[Metric]:
        """Yield the local families, summed with the remote ones, then the remote-only ones."""
        totals = self._totals
        for family in self._registry.collect():
            remote = totals.pop(family.name, None)
            if remote is None:
                yield family
                continue
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            values = remote.values
            samples = merged.samples
            for sample in family.samples:
                extra = values.pop((sample.name, tuple(sorted(sample.labels.items()))), None)
                samples.append(
                    sample if extra is None else sample._replace(value=sample.value + extra)
                )
            samples.extend(
                Sample(name, dict(labels), value) for (name, labels), value in values.items()
            )
            yield merged
        for name, remote in totals.items():
            merged = Metric(name, remote.help, remote.type)
            merged.samples.extend(
                Sample(sample_name, dict(labels), value)
                for (sample_name, labels), value in remote.values.items()
            )
            yield merged


class Metrics:
    """Every metric the service exports, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._tallies: dict[tuple[CachedCounter, tuple[str, ...]], int] = {}
        self._remote: dict[str, dict[str, _Family]] = {}
        self._departed: dict[str, _Family] = {}
        r.register(_Settle(self))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        Info("smsc_build", "What is running", registry=r).info(
            {
                "version": __version__,
                "python": platform.python_version(),
                "sip_implementation": SIP_IMPLEMENTATION,
            }
        )
        self.mo_received = CachedCounter(
            "smsc_mo_received", "MO RP messages received, by RP message type", ["type"], registry=r
        )
        self.mo_rejected = CachedCounter(
            "smsc_mo_rejected",
            "MO short messages answered with RP-ERROR, by RP-Cause",
            ["cause"],
            registry=r,
        )
        self.shed = CachedCounter(
            "smsc_shed",
            "Requests refused with 503 to stay within bounds, by class (mo)",
            ["class"],
            registry=r,
        )
        self.internal_errors = CachedCounter(
            "smsc_internal_errors",
            "Unexpected failures caught by an entry point's top-level handler, by entry point",
            ["entry"],
            registry=r,
        )
        self.mo_answers_lost = CachedCounter(
            "smsc_mo_answers_lost",
            "MESSAGEs carrying an MO's RP answer that could not be sent or got no response",
            registry=r,
        )
        self.mt_delivered = CachedCounter(
            "smsc_mt_delivered", "MT short messages delivered", registry=r
        )
        self.mt_failed = CachedCounter(
            "smsc_mt_failed", "MT delivery attempts that failed, by cause", ["cause"], registry=r
        )
        self.sip_responses = CachedCounter(
            "smsc_sip_responses",
            "SIP responses sent and received, by code and direction",
            ["code", "direction"],
            registry=r,
        )
        self.sip_transactions = CachedGauge(
            "smsc_sip_transactions", "SIP transactions alive, by kind", ["kind"], registry=r
        )
        self.queue_depth = CachedGauge(
            "smsc_queue_depth", "Stored messages by state", ["state"], registry=r
        )
        self.charging_results = CachedCounter(
            "smsc_charging_results",
            "Ro CCA outcomes by deciding Result-Code",
            ["code"],
            registry=r,
        )
        self.charging_latency = Histogram(
            "smsc_charging_latency_seconds",
            "CCR to CCA latency",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.charging_deferred = CachedGauge(
            "smsc_charging_deferred",
            "Deferred CCRs (no OCS answered; kept to be sent again) by state",
            ["state"],
            registry=r,
        )
        self.charging_deferred_replayed = CachedCounter(
            "smsc_charging_deferred_replayed",
            "Deferred CCRs sent again, by outcome (charged, rejected, retry, failed)",
            ["outcome"],
            registry=r,
        )
        self.mo_rejected_short_codes = CachedCounter(
            "smsc_mo_unknown_short_codes",
            "MO short messages to a short code no application has (RP-ERROR, RP-Cause 1)",
            registry=r,
        )
        self.mo_to_application = CachedCounter(
            "smsc_mo_to_application",
            "MO short messages (segments) kept in the outbox for an application, by application",
            ["application"],
            registry=r,
        )
        self.mo_roaming = CachedCounter(
            "smsc_mo_roaming", "MO short messages by roaming verdict", ["status"], registry=r
        )
        self.api_submitted = CachedCounter(
            "smsc_api_submitted", "Messages submitted over the HTTP API (segments)", registry=r
        )
        self.mt_retries = CachedCounter(
            "smsc_mt_retries",
            "MT messages queued again after a failed attempt, by what failed "
            "(rp-error, sip-failure, tr1m-timeout, no-route)",
            ["reason"],
            registry=r,
        )
        self.mt_parked = CachedCounter(
            "smsc_mt_parked",
            "MT messages parked on RP-ERROR 22 (memory capacity exceeded) until RP-SMMA",
            registry=r,
        )
        self.mt_parked_recipients = CachedGauge(
            "smsc_mt_parked_recipients",
            "Recipients this instance parked on memory-full and not yet released",
            registry=r,
        )
        self.mt_released = CachedCounter(
            "smsc_mt_released",
            "Waiting MT messages made due at once by RP-SMMA or a new registration",
            registry=r,
        )
        self.mt_scheduled_due = CachedCounter(
            "smsc_mt_scheduled_due",
            "Scheduled MT messages queued for delivery when their delivery time came",
            registry=r,
        )
        self.mt_expired = CachedCounter(
            "smsc_mt_expired", "MT messages whose validity period ended undelivered", registry=r
        )
        self.status_reports = CachedCounter(
            "smsc_status_reports",
            "Status reports of final outcomes, by channel (sms, callback, smpp) and result",
            ["channel", "result"],
            registry=r,
        )

    def tally(self, counter: CachedCounter, *labels: str) -> None:
        """Count one on the hot path: a dict entry, applied to `counter` when the registry is
        read (prometheus_client's `inc` takes a lock and ~2 µs, several times per MO)."""
        key = (counter, labels)
        tallies = self._tallies
        tallies[key] = tallies.get(key, 0) + 1

    def settle(self) -> None:
        """Apply the tallies to their counters."""
        tallies, self._tallies = self._tallies, {}
        for (counter, labels), amount in tallies.items():
            (counter.labels(*labels) if labels else counter).inc(amount)

    def snapshot(self) -> Snapshot:
        """This process's counters, gauges and histograms (no `_created`), for the main process."""
        self.settle()
        snapshot: Snapshot = {}
        for family in self.registry.collect():
            name = family.name
            if _local_only(name):
                continue
            snapshot[name] = {
                "type": family.type,
                "help": family.documentation,
                "samples": [
                    (sample.name, sample.labels, sample.value)
                    for sample in family.samples
                    if not sample.name.endswith("_created")
                ],
            }
        return snapshot

    def merge_remote(self, source: str, snapshot: Mapping[str, SnapshotFamily]) -> None:
        """Keep `snapshot` as the latest of worker `source`, replacing its previous one;
        SnapshotError (the previous one kept) if it is not a snapshot."""
        self._remote[source] = _parse_snapshot(snapshot)

    def forget_remote(self, source: str) -> None:
        """Drop worker `source` (it exited): its counts stay in the sums, its gauges go."""
        # A worker started again under the same `source` must be forgotten first: otherwise
        # its new process's counters, starting from zero, replace the old ones and sums drop.
        families = self._remote.pop(source, None)
        if families is None:
            return
        departed = self._departed
        for name, family in families.items():
            if family.type not in _CUMULATIVE:
                continue
            kept = departed.get(name)
            if kept is None:
                kept = departed[name] = _Family(family.type, family.help)
            kept.add(family)

    def exposition(self) -> bytes:
        """The Prometheus text of this registry plus the workers' sums (and departed totals)."""
        if not self._remote and not self._departed:
            return generate_latest(self.registry)
        totals: dict[str, _Family] = {}
        for families in (self._departed, *self._remote.values()):
            for name, family in families.items():
                total = totals.get(name)
                if total is None:
                    total = totals[name] = _Family(family.type, family.help)
                total.add(family)
        return generate_latest(_Merged(self.registry, totals))


def metrics_route(
    metrics: Metrics, refresh: Callable[[], Awaitable[None]] | None = None
) -> web.RouteDef:
    """GET /metrics in the Prometheus text format."""

    async def handler(_: web.Request) -> web.Response:
        if refresh is not None:
            await refresh()
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return web.get("/metrics", handler)
