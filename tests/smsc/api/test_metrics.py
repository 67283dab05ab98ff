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
