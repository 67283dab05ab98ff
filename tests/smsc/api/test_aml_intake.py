"""The handsets' AML intake over a real socket: only well-formed AML reports are forwarded,
from allowed networks, at a bounded rate per source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from aml.model import AmlReport
from smsc.api.aml_intake import build_intake_app
from smsc.api.rate_limit import SourceRateLimit

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GOOD = (
    b"v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325"
    b"&location_time=1476189444435&location_accuracy=10.4&location_source=GPS"
    b"&device_model=ABC&cell_id=0213454321&emergency_number=112"
)


class Forwarded:
    def __init__(self) -> None:
        self.reports: list[AmlReport] = []

    async def __call__(self, body: bytes, report: AmlReport, at: datetime) -> int:
        self.reports.append(report)
        return len(self.reports)


def intake(
    forwarded: Forwarded,
    *,
    networks: tuple[str, ...] = ("127.0.0.0/8",),
    burst: int = 50,
    now: list[float] | None = None,
) -> TestClient[Any, Any]:
    clock = now if now is not None else [0.0]
    app = build_intake_app(
        forwarded,
        allowed_networks=networks,
        limit=SourceRateLimit(1.0, burst),
        max_body=4096,
        clock=lambda: clock[0],
    )
    return TestClient(TestServer(app, host="127.0.0.1"))


async def test_a_well_formed_report_is_forwarded() -> None:
    forwarded = Forwarded()
    async with intake(forwarded) as client:
        response = await client.post("/aml", data=GOOD, headers=FORM)
        assert response.status == 201
        assert await response.json() == {"id": "1"}
    [report] = forwarded.reports
    assert report.device_number == "+447477593102"
    assert report.location is not None


async def test_garbage_noise_and_forms_without_a_location_are_400_and_never_forwarded() -> None:
    forwarded = Forwarded()
    async with intake(forwarded) as client:
        for body in (
            b"garbage",
            b"v=1&" + b"x" * 3000,
            b"v=1&device_number=%2B4917100",
            b"location_latitude=95&location_longitude=1",
            GOOD + b"&cmd=rm",
            b"",
        ):
            response = await client.post("/aml", data=body, headers=FORM)
            assert response.status == 400, body[:40]
            answer = await response.json()
            assert answer["field"] == "body"
            assert answer["error"].startswith("not a well-formed AML report")
        assert (await client.post("/aml", data=b"x" * 5000, headers=FORM)).status == 413
        assert (await client.post("/aml", data=GOOD, headers={"Content-Type": "a/b"})).status == 415
        assert (await client.get("/api/v1/aml")).status == 404  # nothing else lives here
    assert forwarded.reports == []


async def test_a_source_outside_the_allowed_networks_is_403() -> None:
    forwarded = Forwarded()
    async with intake(forwarded, networks=("10.0.0.0/8",)) as client:
        response = await client.post("/aml", data=GOOD, headers=FORM)
        assert response.status == 403
    assert forwarded.reports == []


async def test_a_source_above_its_rate_gets_429_with_retry_after() -> None:
    forwarded = Forwarded()
    now = [100.0]
    async with intake(forwarded, burst=2, now=now) as client:
        statuses = [(await client.post("/aml", data=GOOD, headers=FORM)).status for _ in range(3)]
        assert statuses == [201, 201, 429]
        limited = await client.post("/aml", data=GOOD, headers=FORM)
        assert limited.headers["Retry-After"] == "1"
        now[0] += 1.0
        assert (await client.post("/aml", data=GOOD, headers=FORM)).status == 201
    assert len(forwarded.reports) == 3


def test_the_bucket_refills_at_its_rate_and_forgets_the_longest_idle() -> None:
    limit = SourceRateLimit(rate_per_s=2.0, burst=2, max_sources=2)
    assert [limit.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limit.take("a", 0.5) == 0.0  # one token back after 0.5 s
    limit.take("b", 0.5)
    limit.take("c", 0.5)  # "a" is forgotten: a fresh burst
    assert [limit.take("a", 0.5), limit.take("a", 0.5)] == [0.0, 0.0]
