"""PSAP delivery against real aiohttp PSAP servers on loopback: never lose a report."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import itertools
import json
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from aml.psap import REPORT_ID_HEADER, PsapDelivery, parse_header_line
from aml.store import AmlState, AmlStore, NewAmlReport, StoredAmlReport
from smsc.settings import PsapRoute
from smsc.store import SqlMessageStore
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.aml_sql import SqlAmlStore

UTC = dt.UTC
WAIT_S = 20.0
"""Generous bound of the functional waits (they return as soon as the condition holds)."""


def json_render(report: StoredAmlReport) -> tuple[bytes, str]:
    """A simple stand-in for aml.formats: the stored parsed JSON plus who sent it."""
    body = {
        "id": report.id,
        "sender": report.report.sender_msisdn,
        "report": json.loads(report.report.parsed_json),
    }
    return json.dumps(body).encode(), "application/json"


def new_report(n: int = 1, *, route: str = "default", url: str = "http://unused") -> NewAmlReport:
    return NewAmlReport(
        received_at=dt.datetime.now(UTC),
        sender_msisdn=f"4915100000{n:03d}",
        destination="112",
        raw_text=f'A"ML=1;lt=48.{n:05d};lg=-2.36619;rd=52;pm=G',
        parsed_json=json.dumps({"lt": 48.0 + n / 1e5, "lg": -2.36619, "rd": 52}),
        route_name=route,
        format="json",
        url=url,
    )


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check()` holds (polling), failing after WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    report_id: int
    headers: dict[str, str]
    body: Any


@dataclass
class FakePsap:
    """A PSAP on loopback: answers `statuses` in turn (then 200), records what it got."""

    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    port: int = 0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/aml"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/aml", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context, reuse_address=True
        )
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delays:
                await asyncio.sleep(self.delays.pop(0))
            body = await request.json()
            status = self.statuses.pop(0) if self.statuses else 200
            if 200 <= status < 300:
                self.received.append(
                    Received(int(request.headers[REPORT_ID_HEADER]), dict(request.headers), body)
                )
            return web.Response(status=status, text="busy" if status >= 300 else "ok")
        finally:
            self.in_flight -= 1

    def ids(self) -> list[int]:
        return sorted(r.report_id for r in self.received)


@pytest.fixture
async def psap() -> AsyncIterator[FakePsap]:
    server = FakePsap()
    await server.start()
    yield server
    await server.stop()


class SqlStores:
    """Message store + AML store on one SQLite file; reopen() simulates a restart."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite+aiosqlite:///{path}"
        self.messages: SqlMessageStore | None = None
        self.aml: SqlAmlStore | None = None

    async def open(self) -> SqlAmlStore:
        self.messages = SqlMessageStore(self.url)
        await self.messages.start()
        self.aml = SqlAmlStore(self.messages)
        await self.aml.start()
        return self.aml

    async def close(self) -> None:
        if self.aml is not None:
            await self.aml.close()
            self.aml = None
        if self.messages is not None:
            await self.messages.close()
            self.messages = None


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[SqlStores]:
    sql = SqlStores(tmp_path / "var" / "smsc.db")
    yield sql
    await sql.close()


class Running:
    """PsapDelivery instances started by a test, stopped at teardown."""

    def __init__(self) -> None:
        self.started: list[PsapDelivery] = []

    async def start(self, store: AmlStore, routes: list[PsapRoute], **options: Any) -> PsapDelivery:
        options.setdefault("retry_initial_s", 0.02)
        options.setdefault("retry_max_s", 0.2)
        options.setdefault("registry", CollectorRegistry())
        delivery = PsapDelivery(store, routes, options.pop("render", json_render), **options)
        await delivery.start()
        self.started.append(delivery)
        return delivery


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    run = Running()
    yield run
    for delivery in run.started:
        await delivery.stop()


def route(url: str, **fields: Any) -> PsapRoute:
    return PsapRoute(name=fields.pop("name", "default"), numbers=("112",), url=url, **fields)


async def state_of(store: AmlStore, report_id: int) -> StoredAmlReport:
    stored = await store.get(report_id)
    assert stored is not None
    return stored


def delivered(store: AmlStore, *ids: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return all([(await state_of(store, i)).state is AmlState.DELIVERED for i in ids])

    return check


def attempted(store: AmlStore, report_id: int, times: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await state_of(store, report_id)).attempts >= times

    return check


def sample(delivery: PsapDelivery, name: str, **labels: str) -> float:
    found = delivery.metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else float(found)


# -- delivery ---------------------------------------------------------------------------------


async def test_a_report_is_delivered_at_once(
    psap: FakePsap, stores: SqlStores, running: Running
) -> None:
    store = await stores.open()
    delivery = await running.start(store, [route(psap.url)])
    report = new_report(7)
    report_id = await delivery.submit(report)
    await eventually(delivered(store, report_id), "delivery")
    stored = await state_of(store, report_id)
    assert [r.report_id for r in psap.received] == [report_id]
    got = psap.received[0]
    assert got.body == {
        "id": report_id,
        "sender": report.sender_msisdn,
        "report": json.loads(report.parsed_json),
    }
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Idempotency-Key"] == str(report_id)  # as every outbox POST
    assert "Authorization" not in got.headers
    assert stored.attempts == 1 and stored.history[0].ok and stored.history[0].http_status == 200
    assert stored.delivered_at is not None and stored.delivered_at >= report.received_at
    assert sample(delivery, "smsc_aml_delivered_total", route="default") == 1
    assert sample(delivery, "smsc_aml_attempts_total", route="default", outcome="delivered") == 1
    assert sample(delivery, "smsc_aml_delivery_latency_seconds_count") == 1


async def test_many_reports_are_delivered_concurrently_within_the_bound(
    psap: FakePsap, running: Running
) -> None:
    store = MemoryAmlStore()
    await store.start()
    psap.delays = [0.05] * 12
    delivery = await running.start(store, [route(psap.url)], max_in_flight=3)
    ids = await asyncio.gather(*(delivery.submit(new_report(n)) for n in range(12)))
    await eventually(delivered(store, *ids), "all delivered")
    assert psap.ids() == sorted(ids)
    assert 1 < psap.max_in_flight <= 3


async def test_503_then_200_is_retried_and_every_attempt_recorded(
    psap: FakePsap, stores: SqlStores, running: Running
) -> None:
    psap.statuses = [503, 503, 500, 200]
    store = await stores.open()
    delivery = await running.start(store, [route(psap.url)])
    report_id = await delivery.submit(new_report())
    await eventually(delivered(store, report_id), "delivery after retries")
    stored = await state_of(store, report_id)
    assert [(a.ok, a.http_status) for a in stored.history] == [
        (False, 503),
        (False, 503),
        (False, 500),
        (True, 200),
    ]
    assert stored.history[0].error == "HTTP 503: busy"
    assert [a.at for a in stored.history] == sorted(a.at for a in stored.history)
    assert psap.ids() == [report_id]
    assert sample(delivery, "smsc_aml_attempts_total", route="default", outcome="http_error") == 3


async def test_a_psap_down_for_a_while_loses_nothing(stores: SqlStores, running: Running) -> None:
    port = free_port()
    down = FakePsap(port=port)
    store = await stores.open()
    delivery = await running.start(store, [route(down.url)])
    ids = [await delivery.submit(new_report(n)) for n in range(5)]
    for report_id in ids:
        await eventually(attempted(store, report_id, 3), "refused attempts")
    refused = await state_of(store, ids[0])
    assert refused.state is not AmlState.DELIVERED
    assert all(not a.ok and a.http_status is None and a.error for a in refused.history)
    assert sample(delivery, "smsc_aml_attempts_total", route="default", outcome="connect_error")

    await down.start()  # the PSAP comes back on the same port
    try:
        await eventually(delivered(store, *ids), "delivery once the PSAP is back")
        assert down.ids() == ids  # each exactly once
    finally:
        await down.stop()


async def test_a_restart_in_the_middle_delivers_each_report_once(
    stores: SqlStores, running: Running
) -> None:
    port = free_port()
    psap = FakePsap(port=port)
    store = await stores.open()
    first = await running.start(store, [route(psap.url)])
    ids = [await first.submit(new_report(n)) for n in range(3)]
    for report_id in ids:
        await eventually(attempted(store, report_id, 1), "a failed attempt")
    # a fourth report claimed but never answered: the process dies mid-delivery
    orphan = await store.add_report(new_report(9))
    await first.stop()
    stuck = await store.claim_due(dt.datetime.now(UTC) + dt.timedelta(hours=1), 100)
    assert orphan in [r.id for r in stuck]
    await stores.close()

    await psap.start()
    try:
        reopened = await stores.open()
        before = {i: (await state_of(reopened, i)).attempts for i in ids}
        second = await running.start(reopened, [route(psap.url)])
        await eventually(delivered(reopened, *ids, orphan), "delivery after the restart")
        assert psap.ids() == sorted([*ids, orphan])  # once each
        for report_id in ids:
            stored = await state_of(reopened, report_id)
            assert stored.attempts == before[report_id] + 1  # the old failures are kept
            assert [a.ok for a in stored.history] == [False] * before[report_id] + [True]
        assert second.in_flight == 0
    finally:
        await psap.stop()


async def test_a_slow_psap_hits_the_route_timeout_and_is_retried(
    psap: FakePsap, running: Running
) -> None:
    store = MemoryAmlStore()
    await store.start()
    psap.delays = [1.5]
    delivery = await running.start(store, [route(psap.url, timeout_ms=100)])
    report_id = await delivery.submit(new_report())
    await eventually(delivered(store, report_id), "delivery after a timeout")
    stored = await state_of(store, report_id)
    assert stored.history[0].ok is False and stored.history[0].error == "timeout after 100 ms"
    assert stored.history[-1].ok is True
    assert sample(delivery, "smsc_aml_attempts_total", route="default", outcome="timeout") >= 1


async def test_the_auth_header_is_sent(psap: FakePsap, running: Running) -> None:
    store = MemoryAmlStore()
    await store.start()
    routes = [route(psap.url, auth_header="Authorization: Bearer s3cret:x")]
    delivery = await running.start(store, routes)
    report_id = await delivery.submit(new_report())
    await eventually(delivered(store, report_id), "delivery")
    assert psap.received[0].headers["Authorization"] == "Bearer s3cret:x"
    assert psap.received[0].headers[REPORT_ID_HEADER] == str(report_id)


async def test_each_report_uses_its_routes_settings(running: Running) -> None:
    """Two routes, two PSAPs; a route no longer configured falls back to the URL snapshot."""
    store = MemoryAmlStore()
    await store.start()
    north, south, legacy = FakePsap(), FakePsap(), FakePsap()
    for server in (north, south, legacy):
        await server.start()
    try:
        routes = [
            route(north.url, name="north", auth_header="X-Psap-Key: n"),
            route(south.url, name="south"),
        ]
        delivery = await running.start(store, routes)
        a = await delivery.submit(new_report(1, route="north"))
        b = await delivery.submit(new_report(2, route="south"))
        c = await delivery.submit(new_report(3, route="gone", url=legacy.url))
        await eventually(delivered(store, a, b, c), "delivery on every route")
        assert (north.ids(), south.ids(), legacy.ids()) == ([a], [b], [c])
        assert north.received[0].headers["X-Psap-Key"] == "n"
        assert "X-Psap-Key" not in south.received[0].headers
    finally:
        for server in (north, south, legacy):
            await server.stop()


async def test_a_renderer_failure_is_recorded_and_retried(psap: FakePsap, running: Running) -> None:
    store = MemoryAmlStore()
    await store.start()
    calls: list[int] = []

    def flaky(report: StoredAmlReport) -> tuple[bytes, str]:
        calls.append(report.id)
        if len(calls) == 1:
            raise KeyError("lt")
        return json_render(report)

    delivery = await running.start(store, [route(psap.url)], render=flaky)
    report_id = await delivery.submit(new_report())
    await eventually(delivered(store, report_id), "delivery after a render failure")
    stored = await state_of(store, report_id)
    assert stored.history[0].error == "render: KeyError: 'lt'"
    assert psap.ids() == [report_id]


# -- TLS --------------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1: with `cryptography`, else the openssl CLI."""
    cert, key = directory / "psap.crt", directory / "psap.key"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            return None
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


async def test_tls_is_verified_by_default_and_can_be_turned_off_per_route(
    tmp_path: Path, running: Running
) -> None:
    pair = _self_signed(tmp_path)
    if pair is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*pair)
    psap = FakePsap(ssl_context=context)
    await psap.start()
    try:
        store = MemoryAmlStore()
        await store.start()
        routes = [route(psap.url, name="strict"), route(psap.url, name="lax", verify_tls=False)]
        delivery = await running.start(store, routes)
        strict = await delivery.submit(new_report(1, route="strict"))
        lax = await delivery.submit(new_report(2, route="lax"))
        await eventually(delivered(store, lax), "delivery without verification")
        await eventually(attempted(store, strict, 3), "refused certificate, retried")
        refused = await state_of(store, strict)
        assert refused.state is not AmlState.DELIVERED
        assert all(not a.ok and (a.error or "").startswith("TLS:") for a in refused.history)
        assert psap.ids() == [lax]
        assert sample(delivery, "smsc_aml_attempts_total", route="strict", outcome="tls_error")
    finally:
        await psap.stop()


# -- alerting and metrics ---------------------------------------------------------------------


async def test_an_alert_fires_for_each_report_pending_too_long(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="aml.psap")
    store = MemoryAmlStore()
    await store.start()
    down = FakePsap(port=free_port())
    delivery = await running.start(
        store, [route(down.url)], alert_after_s=0.2, monitor_interval_s=0.02
    )
    ids = [await delivery.submit(new_report(n)) for n in range(2)]

    async def alerted() -> bool:
        return sample(delivery, "smsc_aml_alerts_total") == 2

    await eventually(alerted, "two alerts")
    assert sample(delivery, "smsc_aml_oldest_pending_seconds") > 0.2
    alerts = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert sorted(r.levelno for r in alerts) == [logging.ERROR, logging.ERROR]
    assert all(any(f"report {i} " in r.getMessage() for r in alerts) for i in ids)
    await asyncio.sleep(0.1)
    assert sample(delivery, "smsc_aml_alerts_total") == 2  # once per report, not per check

    await down.start()
    try:
        await eventually(delivered(store, *ids), "delivery")

        async def cleared() -> bool:
            return sample(delivery, "smsc_aml_oldest_pending_seconds") == 0

        await eventually(cleared, "the gauge back at 0")
    finally:
        await down.stop()


async def test_metrics_join_the_services_registry(running: Running) -> None:
    registry = CollectorRegistry()
    store = MemoryAmlStore()
    await store.start()
    await running.start(store, [route("http://127.0.0.1:9/aml")], registry=registry)
    text = generate_latest(registry).decode()
    for name in (
        "smsc_aml_delivered_total",
        "smsc_aml_attempts_total",
        "smsc_aml_delivery_latency_seconds",
        "smsc_aml_oldest_pending_seconds",
        "smsc_aml_alerts_total",
    ):
        assert name in text


async def test_stop_then_start_again_is_clean(psap: FakePsap) -> None:
    store = MemoryAmlStore()
    await store.start()
    delivery = PsapDelivery(store, [route(psap.url)], json_render)
    await delivery.start()
    await delivery.stop()
    await delivery.stop()  # idempotent
    report_id = await store.add_report(new_report())
    await delivery.start()
    try:
        await eventually(delivered(store, report_id), "delivery after a restart of the worker")
    finally:
        await delivery.stop()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Authorization: Bearer x", ("Authorization", "Bearer x")),
        ("X-Key:abc", ("X-Key", "abc")),
        ("  X-Key :  a:b  ", ("X-Key", "a:b")),
    ],
)
def test_header_lines_parse(line: str, expected: tuple[str, str]) -> None:
    assert parse_header_line(line) == expected


@pytest.mark.parametrize("line", ["Authorization", "Bad Name: x", ": x", "X-Key:"])
def test_malformed_header_lines_are_refused(line: str) -> None:
    with pytest.raises(ValueError, match="header line"):
        parse_header_line(line)


# -- configuration ------------------------------------------------------------------------------


def test_the_aml_settings_feed_the_routes(tmp_path: Path) -> None:
    from smsc.settings import load_settings

    path = tmp_path / "smsc.yaml"
    path.write_text(
        "aml:\n"
        "  alert_after_s: 5\n"
        "  retry_initial_ms: 50\n"
        "  retry_max_ms: 1000\n"
        "  psaps:\n"
        "    - {name: fr, numbers: ['112'], url: 'https://psap.example/aml', format: pidf-lo,\n"
        "       mccs: ['208'], timeout_ms: 500, verify_tls: false,\n"
        "       auth_header: 'Authorization: Bearer x'}\n"
    )
    aml = load_settings(path, environ={}).aml
    assert (aml.alert_after_s, aml.retry_initial_ms, aml.retry_max_ms) == (5, 50, 1000)
    assert aml.psaps == (
        PsapRoute(
            "fr",
            ("112",),
            "https://psap.example/aml",
            "pidf-lo",
            mccs=("208",),
            timeout_ms=500,
            verify_tls=False,
            auth_header="Authorization: Bearer x",
        ),
    )
    assert load_settings(None, environ={}).aml.psaps[0].verify_tls is True


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("{timeout_ms: 0}", "timeout_ms"),
        ("{verify_tls: maybe}", "verify_tls"),
        ("{auth_header: 'no colon'}", "auth_header"),
        ("{mccs: ['20']}", "mccs"),
    ],
)
def test_bad_route_settings_are_refused(tmp_path: Path, yaml_text: str, message: str) -> None:
    from smsc.settings import SettingsError, load_settings

    route_yaml = yaml_text.replace("{", "{name: x, numbers: ['112'], url: 'http://x', ", 1)
    path = tmp_path / "smsc.yaml"
    path.write_text(f"aml: {{psaps: [{route_yaml}]}}")
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    "yaml_text", ["{alert_after_s: 0}", "{retry_initial_ms: 0}", "{retry_max_ms: 10}"]
)
def test_bad_retry_settings_are_refused(tmp_path: Path, yaml_text: str) -> None:
    from smsc.settings import SettingsError, load_settings

    path = tmp_path / "smsc.yaml"
    path.write_text(f"aml: {yaml_text}")
    with pytest.raises(SettingsError, match="aml"):
        load_settings(path, environ={})


async def test_a_psap_slower_than_the_timeout_gets_backed_off_retries_of_one_report_id(
    psap: FakePsap, running: Running
) -> None:
    """A timeout is retried after the backoff, never in a tight loop; every attempt carries the
    same report id (the PSAP's de-duplication key); the report is counted delivered once."""
    store = MemoryAmlStore()
    await store.start()
    psap.delays = [0.4, 0.4]  # the first two answers come after our 100 ms timeout
    delivery = await running.start(
        store, [route(psap.url, timeout_ms=100)], retry_initial_s=0.3, retry_max_s=1.0
    )
    report_id = await delivery.submit(new_report())
    await eventually(delivered(store, report_id), "delivery after two timeouts")
    stored = await state_of(store, report_id)
    assert [a.ok for a in stored.history] == [False, False, True]
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(stored.history)]
    assert all(gap >= 0.1 + 0.15 for gap in gaps), gaps  # timeout + at least half the backoff
    await asyncio.sleep(0.5)  # the slow answers land at the PSAP after our timeouts
    assert {r.report_id for r in psap.received} == {report_id}  # slow 2xx too: same id
    assert sample(delivery, "smsc_aml_delivered_total", route="default") == 1
