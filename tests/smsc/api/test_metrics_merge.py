"""Metrics: worker processes' snapshots summed into the main process's exposition."""

from __future__ import annotations

import json

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from smsc.api.metrics import Metrics, SnapshotError


def _values(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `metrics.exposition()`, parsed back, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }


def _steady(exposition: bytes) -> list[bytes]:
    """The lines of `exposition` but the process and GC samples, which move between reads."""
    return [
        line
        for line in exposition.splitlines()
        if not line.startswith((b"process_", b"python_gc_"))
    ]


def _families(metrics: Metrics) -> list[str]:
    """The family names of `metrics.exposition()`, in order, repeats kept."""
    return [f.name for f in text_string_to_metric_families(metrics.exposition().decode())]


def _worker() -> Metrics:
    """A worker's metrics with a bit of everything counted."""
    worker = Metrics()
    for _ in range(3):
        worker.tally(worker.mo_received, "RP_DATA_MS_TO_N")
    worker.tally(worker.mt_delivered)
    worker.tally(worker.mt_delivered)
    worker.mo_roaming.labels("home").inc(5)
    worker.charging_latency.observe(0.003)
    worker.sip_transactions.labels("server").set(4)
    return worker


def _main() -> Metrics:
    """The main process's metrics, some of them counted too."""
    main = Metrics()
    main.tally(main.mo_received, "RP_DATA_MS_TO_N")
    main.tally(main.mt_delivered)
    main.charging_latency.observe(0.2)
    main.sip_transactions.labels("server").set(1)
    return main


RECEIVED = ("smsc_mo_received_total", (("type", "RP_DATA_MS_TO_N"),))
DELIVERED = ("smsc_mt_delivered_total", ())
ROAMING = ("smsc_mo_roaming_total", (("status", "home"),))
TRANSACTIONS = ("smsc_sip_transactions", (("kind", "server"),))
COUNT = ("smsc_charging_latency_seconds_count", ())
SUM = ("smsc_charging_latency_seconds_sum", ())
BUCKET_5MS = ("smsc_charging_latency_seconds_bucket", (("le", "0.005"),))
BUCKET_250MS = ("smsc_charging_latency_seconds_bucket", (("le", "0.25"),))


def test_worker_samples_are_summed_into_the_exposition() -> None:
    main, worker = _main(), _worker()
    main.merge_remote("1", worker.snapshot())
    values = _values(main)
    assert values[RECEIVED] == 4
    assert values[DELIVERED] == 3
    assert values[ROAMING] == 5  # a child only the worker created
    assert values[TRANSACTIONS] == 5
    assert values[COUNT] == 2
    assert values[SUM] == pytest.approx(0.203)
    assert values[BUCKET_5MS] == 1
    assert values[BUCKET_250MS] == 2
    names = _families(main)
    assert len(names) == len(set(names))  # one HELP/TYPE per family


def test_snapshot_leaves_out_per_process_figures_and_created() -> None:
    snapshot = _worker().snapshot()
    assert "smsc_build" not in snapshot
    assert not [n for n in snapshot if n.startswith(("process_", "python_"))]
    samples = [s[0] for family in snapshot.values() for s in family["samples"]]
    assert "smsc_mo_received_total" in samples  # tallies settled
    assert not [s for s in samples if s.endswith("_created")]


def test_per_process_figures_are_not_summed() -> None:
    main, worker = _main(), _worker()
    main.merge_remote("1", worker.snapshot())
    values = _values(main)
    started = main.registry.get_sample_value("process_start_time_seconds")
    assert started is not None
    assert values[("process_start_time_seconds", ())] == started
    assert [v for k, v in values.items() if k[0] in ("smsc_build_info", "python_info")] == [1, 1]


def test_a_newer_snapshot_replaces_the_previous_one() -> None:
    main, worker = _main(), _worker()
    main.merge_remote("1", worker.snapshot())
    worker.tally(worker.mt_delivered)
    main.merge_remote("1", worker.snapshot())
    values = _values(main)
    assert values[DELIVERED] == 4
    assert values[RECEIVED] == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"smsc_mt_delivered": {"type": "counter"}},
        {"smsc_mt_delivered": {"type": "counter", "help": "", "samples": [["x", {}, "many"]]}},
        {"smsc_mt_delivered": {"type": "counter", "help": "", "samples": [["x", [], 1.0]]}},
        {"smsc_mt_delivered": []},
        [],
    ],
)
def test_a_malformed_snapshot_is_a_typed_error_and_the_last_good_one_stays(bad: object) -> None:
    main, worker = _main(), _worker()
    main.merge_remote("1", worker.snapshot())
    with pytest.raises(SnapshotError):
        main.merge_remote("1", bad)  # type: ignore[arg-type]
    assert _values(main)[DELIVERED] == 3


def test_two_workers_are_both_summed() -> None:
    main = _main()
    main.merge_remote("1", _worker().snapshot())
    main.merge_remote("2", _worker().snapshot())
    values = _values(main)
    assert values[RECEIVED] == 7
    assert values[ROAMING] == 10
    assert values[TRANSACTIONS] == 9


def test_forgotten_worker_keeps_its_counts_and_drops_its_gauges() -> None:
    main, worker = _main(), _worker()
    main.merge_remote("1", worker.snapshot())
    main.forget_remote("1")
    values = _values(main)
    assert values[RECEIVED] == 4
    assert values[DELIVERED] == 3
    assert values[ROAMING] == 5
    assert values[COUNT] == 2
    assert values[BUCKET_250MS] == 2
    assert values[TRANSACTIONS] == 1
    main.forget_remote("1")  # already gone: nothing counted twice
    assert _values(main)[RECEIVED] == 4
    restarted = Metrics()
    restarted.tally(restarted.mo_received, "RP_DATA_MS_TO_N")
    main.merge_remote("1", restarted.snapshot())
    assert _values(main)[RECEIVED] == 5


def test_forgetting_an_unknown_worker_changes_nothing() -> None:
    main = _main()
    main.forget_remote("7")
    assert _steady(main.exposition()) == _steady(generate_latest(main.registry))


def test_without_workers_the_exposition_is_the_registry_s() -> None:
    main = _main()
    exposition = main.exposition()
    assert _steady(exposition) == _steady(generate_latest(main.registry))
    assert b"smsc_mo_received_total" in exposition


def test_snapshot_survives_json_and_still_merges() -> None:
    main, worker = _main(), _worker()
    snapshot = worker.snapshot()
    main.merge_remote("1", json.loads(json.dumps(snapshot)))
    values = _values(main)
    assert values[RECEIVED] == 4
    assert values[ROAMING] == 5
    assert values[BUCKET_5MS] == 1
    assert values[TRANSACTIONS] == 5
