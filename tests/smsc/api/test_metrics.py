"""Metrics: labelled children are cached, the exposition is unchanged."""

from __future__ import annotations

from smsc.api.metrics import Metrics


def test_labelled_children_are_cached_and_counted() -> None:
    metrics = Metrics()
    child = metrics.sip_responses.labels("202", "sent")
    assert metrics.sip_responses.labels("202", "sent") is child
    assert metrics.sip_responses.labels(code="202", direction="sent") is child
    child.inc()
    metrics.sip_responses.labels("202", "sent").inc()
    metrics.queue_depth.labels("queued").set(3)
    text = metrics.exposition().decode()
    assert 'smsc_sip_responses_total{code="202",direction="sent"} 2.0' in text
    assert 'smsc_queue_depth{state="queued"} 3.0' in text


def test_tallies_show_on_every_read_of_the_registry() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.tally(metrics.mo_received, "RP_DATA_MS_TO_N")
    metrics.tally(metrics.sip_responses, "202", "sent")
    metrics.tally(metrics.mt_delivered)
    registry = metrics.registry
    assert registry.get_sample_value("smsc_mo_received_total", {"type": "RP_DATA_MS_TO_N"}) == 3
    assert (
        registry.get_sample_value("smsc_sip_responses_total", {"code": "202", "direction": "sent"})
        == 1
    )
    metrics.tally(metrics.mo_received, "RP_DATA_MS_TO_N")
    text = metrics.exposition().decode()
    assert 'smsc_mo_received_total{type="RP_DATA_MS_TO_N"} 4.0' in text
    assert "smsc_mt_delivered_total 1.0" in text


async def test_process_python_and_build_figures_are_exported() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from smsc import __version__
    from smsc.api.metrics import metrics_route
    from smsc.version import SIP_IMPLEMENTATION

    app = web.Application()
    app.add_routes([metrics_route(Metrics())])
    async with TestClient(TestServer(app)) as client:
        text = await (await client.get("/metrics")).text()
    assert "process_resident_memory_bytes " in text
    assert "python_gc_objects_collected_total{generation=" in text
    assert "python_info{" in text
    assert 'smsc_build_info{python="' in text
    assert f'version="{__version__}"' in text
    assert f'sip_implementation="{SIP_IMPLEMENTATION}"' in text
