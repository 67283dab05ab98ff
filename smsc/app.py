"""Composition root: start the parts in order, stop them in reverse."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from aml.emergency import load_emergency_numbers
from aml.psap import PsapDelivery
from charging.ccr import SmsChargingEvent
from charging.client import ChargingClient
from charging.errors import ChargingError, ChargingUnavailable
from smsc.api.access import credentials_of
from smsc.api.aml_intake import build_intake_app
from smsc.api.http_app import build_http_app
from smsc.api.message_request import RequestPolicy
from smsc.api.metrics import Metrics
from smsc.api.rate_limit import SourceRateLimit
from smsc.errors import StartupError
from smsc.log_summary import SummaryTask
from smsc.outbox.engine import parse_header_line
from smsc.outbox.jobs import OutboxKind
from smsc.outbox.outbox import Outbox
from smsc.relay import MtRelay
from smsc.routing.applications import ApplicationTable
from smsc.routing.numbering import DiallingPlan
from smsc.service.applications import compose_jobs
from smsc.service.charging_gate import ChargingGate
from smsc.service.deferred_charging import DeferredChargeReplayer, lease_s_for
from smsc.service.emergency import EmergencyService, render_stored
from smsc.service.front import SipFront
from smsc.service.mo import MoService
from smsc.service.mt import MtService, Route
from smsc.service.next_hops import NextHops
from smsc.service.registrations import Registrar
from smsc.service.shared_state import (
    DuplicateFilter,
    RegistrarStore,
    RegistrationStore,
    duplicate_key,
)
from smsc.settings import Settings
from smsc.settings_fields import masked_url, split_host_port
from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.locate import NextHopUnresolved, Unresolved
from smsc.sip.steering import MAIN, branch_tag, handler_of
from smsc.sip.trust import TrustedPeers
from smsc.smpp.service import SmppMetrics, SmppService
from smsc.startup import EXIT_CONFIGURATION, check_listeners, failing_as
from smsc.store.aml_sql import SqlAmlStore
from smsc.store.local_duplicates import LocalDuplicateFilter
from smsc.store.outbox_jobs_sql import SqlOutboxStore
from smsc.store.redis_client import connect as connect_redis
from smsc.store.redis_duplicates import RedisDuplicateFilter
from smsc.store.redis_registrations import RedisRegistrationStore
from smsc.store.sql import SqlMessageStore
from smsc.transport.dns import DnsResolver
from smsc.transport.sip import ListenAddress, SipTransport, TcpLimits
from smsc.workers.charge_frames import decode_event, encode_failure, encode_result
from smsc.workers.frames import FrameError
from smsc.workers.link import WorkerLink, WorkerRole
from smsc.workers.pool import WorkerPool
from smsc.workers.remote_charger import RemoteCharger

log = logging.getLogger("smsc")

RECENT_MO_LIMIT = 100_000
"""MO read back into the duplicate filter at start (the in-process filter's size)."""

WORKERS_READY_S = 30.0
"""How long start-up waits for the worker processes to serve (traffic meanwhile goes to the
processes already serving)."""


def _in_memory(database_url: str) -> bool:
    """An SQLite database that lives in one process only."""
    url = make_url(database_url)
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


AUTO_WORKERS_MAX = 8
"""`sip.workers: auto` takes at most this many processes: they share one store, and past a few
the database, not the CPU, sets the pace."""

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
"""cgroup v2: "QUOTA PERIOD" (or "max PERIOD"), the CPU limit of a container (docker --cpus)."""


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, within its cgroup's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit visible
    return max(1, cores)


def worker_processes(settings: Settings) -> int:
    """How many processes share the SIP UDP port (`sip.workers`); StartupError when an
    explicit number cannot be honoured."""
    wanted = settings.sip.workers
    blockers = []
    if not any(entry.lower().startswith("udp:") for entry in settings.sip.listen):
        blockers.append("no udp: entry in sip.listen")
    if _in_memory(settings.storage.database_url):
        blockers.append("an in-memory database (the processes share the store)")
    if wanted == "auto":
        # With charging the main process also charges for every worker (one Diameter
        # identity): on 2 cores that measured no faster than one process, so auto stays at one;
        # an explicit number is honoured.
        if blockers or settings.charging.enabled:
            return 1
        return min(available_cores(), AUTO_WORKERS_MAX)
    if wanted > 1 and blockers:
        raise StartupError(
            f"sip.workers {wanted}: not possible with {'; '.join(blockers)}",
            exit_status=EXIT_CONFIGURATION,
        )
    return wanted


class Application:
    """The running service."""

    def __init__(
        self,
        settings: Settings,
        *,
        worker: WorkerRole | None = None,
        serve_argv: Sequence[str] = (),
    ) -> None:
        """``worker``: this process is one of the workers of `sip.workers` (started by the
        main process with ``serve_argv`` and the hidden --worker option)."""
        self.settings = settings
        self.worker = worker
        self._serve_argv = tuple(serve_argv)
        self.processes = 1
        self.pool: WorkerPool | None = None
        self._worker_charges: set[asyncio.Task[None]] = set()
        self.link: WorkerLink | None = None
        self.metrics = Metrics()
        self.store = SqlMessageStore(settings.storage.database_url, schema=settings.storage.schema)
        self.registrar = Registrar()
        self.plan = DiallingPlan.of(settings.routing.numbering)
        self.outbox_store = SqlOutboxStore(self.store)
        self.outbox = Outbox(
            self.outbox_store,
            settings.outbox,
            registry=self.metrics.registry,
            composers={OutboxKind.APPLICATION: compose_jobs},
            headers={
                application.name: (parse_header_line(application.auth_header),)
                for application in settings.routing.applications
                if application.auth_header is not None
            },
            # alone on its database, what a stopped process left delivering is due at start;
            # with other instances, when its lease runs out (a live one may be POSTing it)
            requeue_on_start=settings.storage.redis_url is None and worker is None,
            on_internal_error=self.metrics.internal_errors.labels("outbox").inc,
        )
        self.next_hops = NextHops(
            DnsResolver(settings.sip.dns_servers),
            failover_s=settings.sip.dns_failover_s,
            clock=time.monotonic,
        )
        self.registrations: RegistrationStore = RegistrarStore(self.registrar)
        self.transport: SipTransport | None = None
        self.mt: MtService | None = None
        self.mo: MoService | None = None
        self._mt_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._intake_runner: web.AppRunner | None = None
        self._ready = False
        self._started = False
        self._summary: SummaryTask | None = None
        self.charging: ChargingClient | None = None
        self.remote_charger: RemoteCharger | None = None
        """A worker's charger: its MO are charged by the main process's client."""
        self.replayer: DeferredChargeReplayer | None = None
        self.aml_store = SqlAmlStore(self.store)
        self.psap_delivery: PsapDelivery | None = None
        self.emergency_service: EmergencyService | None = None
        self.duplicates: DuplicateFilter = LocalDuplicateFilter()
        self._redis: Redis | None = None
        self.smpp: SmppService | None = None

    async def _route(self, msisdn: str) -> Route | None:
        """The registration's S-CSCF, else `sip.next_hop` (RFC 3263 targets, NextHops); a name
        that does not resolve raises NextHopUnresolved (a temporary failure)."""
        registration = await self.registrations.lookup(msisdn)
        next_hop = self.settings.sip.next_hop
        if registration is not None:
            uri = registration.scscf_uri
            try:
                return Route(await self.next_hops.targets(uri), uri)
            except NextHopUnresolved as exc:
                if next_hop is None and exc.reason is not Unresolved.UNUSABLE_URI:
                    raise
        return None if next_hop is None else Route(await self.next_hops.targets(next_hop), next_hop)

    async def _can_route(self) -> bool:
        """Whether anything can leave: a next hop, or anybody registered."""
        return self.settings.sip.next_hop is not None or await self.registrations.count() > 0

    async def start(self) -> None:
        """Start every part in order; a failure is a StartupError naming what and where."""
        settings = self.settings
        worker = self.worker
        if worker is None:
            # only `smsc serve` (serve_argv) can start workers: they load the same settings
            self.processes = worker_processes(settings) if self._serve_argv else 1
            check_listeners(
                settings.sip.listen,
                ("http.listen", settings.http.listen),
                *(
                    ()
                    if settings.aml.intake.listen is None
                    else (("aml.intake.listen", settings.aml.intake.listen),)
                ),
                *(("smpp.listen", address) for address in settings.smpp.listen),
                *(("smpp.tls_listen", address) for address in settings.smpp.tls_listen),
                shared_udp=self.processes > 1,
            )
        else:
            self.processes = worker.processes
        with failing_as("emergency numbers", exit_status=EXIT_CONFIGURATION):
            emergency = load_emergency_numbers(
                Path(settings.smsc.emergency_numbers_file)
                if settings.smsc.emergency_numbers_file
                else None,
                extra=[n for route in settings.aml.psaps for n in route.numbers],
            )
        if settings.storage.redis_url is not None:
            with failing_as(f"Redis {masked_url(settings.storage.redis_url)}"):
                self._redis = await connect_redis(settings.storage.redis_url)
            prefix = settings.storage.redis_prefix
            self.duplicates = RedisDuplicateFilter(self._redis, prefix=prefix)
            self.registrations = RedisRegistrationStore(self._redis, prefix=prefix)
        with failing_as(f"database {masked_url(settings.storage.database_url)}"):
            await self.store.start()
            await self.aml_store.start()
            await self.outbox_store.start()
            await self._remember_recent_mo()
        self.psap_delivery = PsapDelivery(
            self.aml_store,
            settings.aml.psaps,
            render_stored,
            registry=self.metrics.registry,
            alert_after_s=settings.aml.alert_after_s,
            retry_initial_s=settings.aml.retry_initial_ms / 1000,
            retry_max_s=settings.aml.retry_max_ms / 1000,
            on_internal_error=self.metrics.internal_errors.labels("aml").inc,
            # a worker starts beside live processes: what is delivering may be theirs
            requeue_on_start=worker is None,
        )
        await self.psap_delivery.start()
        await self.outbox.start()
        self.emergency_service = EmergencyService(self.psap_delivery, settings.aml.psaps)
        with failing_as("charging"):
            gate = await self._start_charging()
        shared = settings.storage.redis_url is not None  # several instances share the store
        # A message delivering longer than TR1M plus a whole SIP transaction was claimed by an
        # instance that died; alone, whatever is delivering at start was ours.
        lease = settings.smsc.tr1m_s + 64 * settings.sip.t1_ms / 1000 + 1.0
        if worker is not None:
            requeued = 0  # the main process did it before it started this one
        elif shared:
            requeued = await self.store.requeue_delivering(
                datetime.now(UTC) - timedelta(seconds=lease)
            )
        else:
            requeued = await self.store.requeue_delivering()
        if requeued:
            log.info("%d messages left in delivering are queued again", requeued)
        listen = [ListenAddress.parse(entry) for entry in settings.sip.listen]
        first = listen[0]
        if worker is not None:  # TCP stays with the main process
            listen = [entry for entry in listen if entry.transport is Transport.UDP]
        endpoint = SipEndpoint(
            local_via_host=settings.sip.via_host or first.host,
            local_port=first.port,
            t1=settings.sip.t1_ms / 1000,
            t2=settings.sip.t2_ms / 1000,
            t4=settings.sip.t4_ms / 1000,
            trusted=TrustedPeers(settings.sip.trusted_peers),
            answer_untrusted=settings.sip.untrusted_response == "403",
            branch_tag=branch_tag(MAIN if worker is None else worker.index)
            if self.processes > 1
            else "",
        )
        transport = SipTransport(
            endpoint,
            listen,
            tcp_limits=TcpLimits(
                idle_s=settings.sip.tcp_idle_s,
                max_connections=settings.sip.tcp_max_connections,
                max_per_source=settings.sip.tcp_max_per_source,
            ),
            on_internal_error=self.metrics.internal_errors.labels("sip").inc,
            udp_group=self.processes,
        )
        self.transport = transport
        if worker is not None:
            self.link = WorkerLink(
                worker,
                on_datagram=transport.receive,
                snapshot=self.metrics.snapshot,
                charger=self.remote_charger,
            )
        prefixes = settings.smsc.fill_rp_da_prefixes
        self.mt = mt = MtService(
            store=self.store,
            sender=transport,
            psi=settings.sip.psi,
            sc_address=settings.smsc.sc_address,
            new_call_id=endpoint.new_call_id,
            new_tag=endpoint.new_tag,
            route=self._route,
            can_route=self._can_route,
            metrics=self.metrics,
            relay=MtRelay(settings.smsc.tr1m_s),
            clock=transport.now,
            delivery=settings.delivery,
            claim_lease_s=lease if shared else None,
            fill_rp_da=lambda recipient: recipient.startswith(prefixes) if prefixes else False,
            next_hops=self.next_hops,
            outbox=self.outbox,
        )
        mt.reporter.receipt_keep = timedelta(hours=settings.smpp.receipt_validity_h)
        self.mo = MoService(
            store=self.store,
            sender=transport,
            psi=settings.sip.psi,
            new_call_id=endpoint.new_call_id,
            new_tag=endpoint.new_tag,
            metrics=self.metrics,
            on_stored=self._on_stored,
            gate=gate,
            emergency=emergency,
            psaps=self.emergency_service,
            duplicates=self.duplicates if settings.smsc.duplicate_window_s > 0 else None,
            duplicate_window_s=settings.smsc.duplicate_window_s,
            on_memory_available=mt.release_soon,
            home_plmns=settings.smsc.home_plmns,
            pani_trust="any" if settings.smsc.pani_trust == "any" else "network-provided",
            plan=self.plan,
            applications=ApplicationTable(settings.routing.applications),
            outbox=self.outbox,
        )
        queue_limit = settings.sip.overload_queue_kib * 1024
        transport.on_event = SipFront(
            sender=transport,
            mo=self.mo,
            mt=mt,
            registrations=self.registrations,
            trusted_peers=settings.sip.trusted_peers,
            metrics=self.metrics,
            clock=transport.now,
            max_mo_in_flight=settings.sip.max_mo_in_flight,
            retry_after_s=settings.sip.overload_retry_after_s,
            queue_full=(lambda: transport.udp_backlog() > queue_limit)
            if queue_limit
            else (lambda: False),
            plan=self.plan,
        ).on_event
        with failing_as("sip.listen"):
            await transport.start()
        if self.link is not None:
            transport.divert = self._divert_to_main
            self.link.start()
            self._ready = self._started = True
            log.info("SIP worker %d of %d serving", self.link.role.index, self.processes)
            return
        if self.processes > 1:
            await self._start_workers(transport, mt)
        self._mt_task = asyncio.get_running_loop().create_task(mt.run())
        with failing_as(f"http.listen {settings.http.listen}"):
            await self._start_http(mt)
        if settings.aml.intake.listen is not None:
            with failing_as(f"aml.intake.listen {settings.aml.intake.listen}"):
                await self._start_intake(settings.aml.intake.listen)
        if settings.smpp.listen or settings.smpp.tls_listen:
            self.smpp = SmppService(
                settings.smpp,
                store=self.store,
                plan=self.plan,
                metrics=SmppMetrics(self.metrics.registry),
                delivery=mt,
                outbox=self.outbox_store,
                outbox_settings=settings.outbox,
            )
            self.outbox.on_smpp_job = self.smpp.wake
            with failing_as("smpp.listen"):
                await self.smpp.start()
        self._summary = SummaryTask(
            self.metrics.registry, settings.logging.summary_s, self._refresh_gauges
        )
        self._summary.start()
        self._ready = self._started = True
        self._log_started()

    def _smpp_sessions(self) -> list[dict[str, Any]] | None:
        """GET /api/v1/smpp/sessions; None when SMPP is off."""
        return None if self.smpp is None else self.smpp.sessions()

    def _on_stored(self, recipient: str) -> None:
        """MO stored for `recipient`: the MT loop (of the main process) looks now."""
        if self.link is not None:
            self.link.wake(recipient)
        elif self.mt is not None:
            self.mt.wake((recipient,))

    def _divert_to_main(self, data: bytes, source: tuple[str, int]) -> bool:
        """A worker's UDP datagram that the main process handles, or passes to its owner."""
        link = self.link
        assert link is not None
        if handler_of(data, link.role.index, self.processes) is None:
            return False
        link.forward(data, source)
        return True

    def _divert_to_worker(self, data: bytes, source: tuple[str, int]) -> bool:
        """A response to a worker's request, received here or passed on by another worker."""
        index = handler_of(data, MAIN, self.processes)
        if index is None:
            return False
        assert self.pool is not None
        self.pool.forward(index, data, source)
        return True

    async def _start_workers(self, transport: SipTransport, mt: MtService) -> None:
        """Worker processes 1 .. processes-1 on the same UDP port (smsc/workers/)."""
        transport.divert = self._divert_to_worker
        self.pool = pool = WorkerPool(
            self.processes,
            self._serve_argv,
            on_datagram=transport.receive,
            on_wake=lambda recipient: mt.wake((recipient,)),
            on_metrics=self.metrics.merge_remote,
            on_gone=self.metrics.forget_remote,
            on_charge=self._charge_for_worker,
        )
        with failing_as("sip.workers"):
            await pool.start()
        if await pool.wait_ready(WORKERS_READY_S):
            log.info("SIP workers: %d processes share the UDP port", self.processes)
        else:
            log.warning(
                "SIP workers: %d of %d serving after %.0f s; the others join when they start",
                pool.ready,
                self.processes - 1,
                WORKERS_READY_S,
            )

    def _log_started(self) -> None:
        """What an operator needs to know the service is what they configured."""
        settings = self.settings
        log.info("database %s", masked_url(settings.storage.database_url))
        redis = settings.storage.redis_url
        log.info("redis %s", "off (one instance)" if redis is None else masked_url(redis))
        log.info("PSI %s", settings.sip.psi)
        http = settings.http
        named = [f"{t.name} ({t.scope})" for t in http.tokens]
        if http.api_token is not None:
            named.append("api_token (submit)")
        log.info("HTTP API tokens: %s", ", ".join(named) if named else "none (loopback only)")
        charging = settings.charging
        if charging.enabled:
            peers = ", ".join(f"{p.host} at {p.address}:{p.port}" for p in charging.peers)
            log.info("charging on: OCS peers %s; on failure %s", peers, charging.failure_handling)
        else:
            log.info("charging off")
        for route in settings.aml.psaps:
            log.info(
                "PSAP route %s: numbers %s -> %s (%s)",
                route.name,
                ", ".join(route.numbers),
                masked_url(route.url),
                route.format,
            )
        numbering = settings.routing.numbering
        log.info(
            "dialling plan: country code +%s, national prefix %r, international prefix %r, "
            "short codes up to %d digits, other type-unknown numbers %s",
            numbering.country_code,
            numbering.national_prefix,
            numbering.international_prefix,
            numbering.short_code_max_digits,
            numbering.unknown_numbers,
        )
        for application in settings.routing.applications:
            log.info(
                "application %s: numbers %s -> %s",
                application.name,
                ", ".join(application.numbers),
                masked_url(application.url)
                if application.url is not None
                else f"SMPP account {application.smpp}",
            )
        if settings.sip.next_hop is None:
            log.warning(
                "sip.next_hop is not set: MT SMS to a recipient without a third-party "
                "registration waits until one arrives"
            )
        else:
            servers = ", ".join(settings.sip.dns_servers) or "the system's"
            log.info("next hop %s (host names by DNS: %s)", settings.sip.next_hop, servers)
        smpp = ""
        if self.smpp is not None:
            addresses = [f"{host}:{port}" for host, port in self.smpp.addresses]
            smpp = ", SMPP " + ", ".join(addresses)
        log.info(
            "started: SIP %s, HTTP %s%s", ", ".join(settings.sip.listen), settings.http.listen, smpp
        )

    async def _remember_recent_mo(self) -> None:
        """The duplicate filter learns again the MO stored within its window: a UE re-sending
        an SMS whose RP-ACK a crash or restart swallowed is acknowledged, not stored twice."""
        window = self.settings.smsc.duplicate_window_s
        if window <= 0:
            return
        now = datetime.now(UTC)
        recent = await self.store.recent_mo(now - timedelta(seconds=window), RECENT_MO_LIMIT)
        remembered = 0
        for start in range(0, len(recent), 500):
            waits = []
            for mo in recent[start : start + 500]:
                left = window - (now - mo.received_at).total_seconds()
                if left > 0:
                    key = duplicate_key(mo.originator, mo.rp_mr, mo.submit_tpdu)
                    waits.append(self.duplicates.seen(key, left))
            await asyncio.gather(*waits)
            remembered += len(waits)
        if remembered:
            log.info("duplicate filter: %d MO of the last %.0f s remembered", remembered, window)

    async def _start_charging(self) -> ChargingGate | None:
        """Ro online charging when `charging.enabled` (the OCS peers connect in the background)."""
        settings = self.settings.charging
        if not settings.enabled:
            return None
        logging.getLogger("diameter").setLevel(logging.WARNING)
        if self.worker is not None:  # the main process charges for it (one Diameter identity)
            self.remote_charger = RemoteCharger(wait_s=2 * settings.timeout_ms / 1000 + 5.0)
            return ChargingGate(
                self.remote_charger,
                self.store,
                self.metrics,
                settings.failure_handling,
                country_code=self.settings.routing.numbering.country_code,
            )
        self.charging = ChargingClient(settings, smsc_address=self.settings.smsc.sc_address)
        await self.charging.start()
        if self.worker is None:  # the main process replays the deferred CCRs, workers do not
            self.replayer = DeferredChargeReplayer(
                self.store,
                self.charging,
                self.metrics,
                interval_s=settings.replay_interval_s,
                batch=settings.replay_batch,
                max_age_s=settings.replay_max_age_h * 3600.0,
                lease_s=lease_s_for(settings.replay_batch, settings.timeout_ms / 1000),
            )
            self.charging.on_peer_open = self.replayer.wake
            self.replayer.start()
        return ChargingGate(
            self.charging,
            self.store,
            self.metrics,
            settings.failure_handling,
            country_code=self.settings.routing.numbering.country_code,
        )

    def _charge_for_worker(self, index: int, body: bytes) -> None:
        """A worker's CHARGE frame: charged by this process's client, answered with CHARGED."""
        try:
            request_id, event = decode_event(body)
        except FrameError as exc:
            log.error("SIP worker %d sent an unreadable charging request: %s", index, exc)
            return
        task = asyncio.get_running_loop().create_task(
            self._charge_and_answer(index, request_id, event)
        )
        self._worker_charges.add(task)
        task.add_done_callback(self._worker_charges.discard)

    async def _charge_and_answer(
        self, index: int, request_id: int, event: SmsChargingEvent
    ) -> None:
        pool, client = self.pool, self.charging
        assert pool is not None
        try:
            if client is None:
                raise ChargingUnavailable("charging is not enabled in the main process")
            body = encode_result(request_id, await client.charge(event))
        except ChargingError as exc:  # no CCR could be sent: the worker's gate decides
            body = encode_failure(request_id, str(exc))
        pool.answer_charge(index, body)

    async def why_unroutable(self, msisdn: str) -> str | None:
        """RouteExplainer: what keeps MT to `msisdn` from leaving, or None."""
        try:
            if await self._route(msisdn) is not None:
                return None
        except NextHopUnresolved as exc:
            return f"the next hop does not resolve: {exc}"
        return (
            f"no registration for +{msisdn}, and sip.next_hop is not set"
            if self.settings.sip.next_hop is None
            else f"sip.next_hop {self.settings.sip.next_hop} is not a usable route"
        )

    async def _start_http(self, mt: MtService) -> None:
        app = build_http_app(
            credentials=credentials_of(self.settings.http.api_token, self.settings.http.tokens),
            ready=lambda: self._ready,
            store=self.store,
            metrics=self.metrics,
            on_submitted=mt.wake,
            aml_store=self.aml_store,
            registrations=self.registrations,
            clock=time.monotonic,
            explainer=self,
            refresh=self._refresh_gauges,
            policy=RequestPolicy(self.plan, self.settings.delivery.callback_url_allow),
            smpp_sessions=self._smpp_sessions,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = split_host_port(self.settings.http.listen)
        await web.TCPSite(self._runner, host, port).start()
        log.info("HTTP API listening on %s", self.settings.http.listen)

    async def _start_intake(self, listen: str) -> None:
        """The handsets' AML intake, apart from the operator API."""
        assert self.emergency_service is not None
        intake = self.settings.aml.intake
        app = build_intake_app(
            self.emergency_service.accept_https,
            allowed_networks=intake.allowed_networks,
            limit=SourceRateLimit(intake.rate_per_s, intake.burst),
            max_body=intake.max_body,
        )
        self._intake_runner = web.AppRunner(app, access_log=None)
        await self._intake_runner.setup()
        host, port = split_host_port(listen)
        await web.TCPSite(self._intake_runner, host, port).start()
        log.info("AML intake listening on %s for %s", listen, ", ".join(intake.allowed_networks))

    async def _refresh_gauges(self) -> None:
        for state, count in (await self.store.count_by_state()).items():
            self.metrics.queue_depth.labels(str(state)).set(count)
        await self.outbox.refresh_gauges()
        if self.smpp is not None:
            self.smpp.refresh_gauges()
        if self.transport is not None:
            counters = self.transport.endpoint.counters
            self.metrics.sip_transactions.labels("server").set(
                counters.server_transactions_created - counters.server_transactions_terminated
            )
            self.metrics.sip_transactions.labels("client").set(
                counters.client_transactions_created - counters.client_transactions_terminated
            )

    async def stop(self) -> None:
        self._ready = False
        if self._summary is not None:
            await self._summary.stop()
        for runner in (self._runner, self._intake_runner):
            if runner is not None:
                await runner.cleanup()
        self._runner = self._intake_runner = None
        if self.smpp is not None:
            await self.smpp.stop()  # unbind: no new submits; deliveries in flight are retried
        if self.pool is not None:
            await self.pool.stop()  # each worker drains its MO in flight
        if self.mt is not None:
            self.mt.stop()
        if self._mt_task is not None:
            await self._mt_task
        if self.mo is not None:
            await self.mo.drain()
        if self.mt is not None:
            await self.mt.drain()
        if self.transport is not None:
            await self.transport.stop()
        if self.link is not None:
            await self.link.stop()
        if self.replayer is not None:
            await self.replayer.stop()  # before the client: a replay in progress ends first
        if self.charging is not None:
            await self.charging.stop()
        if self.psap_delivery is not None:
            await self.psap_delivery.stop()
        await self.outbox.stop()
        await self.outbox_store.close()
        await self.aml_store.close()
        await self.store.close()
        if self._redis is not None:
            await self._redis.aclose()
        if self._started:
            log.info("drained and stopped")


async def serve(
    settings: Settings, *, worker: WorkerRole | None = None, serve_argv: Sequence[str] = ()
) -> None:
    """Run until SIGINT or SIGTERM (a worker: also until the main process is gone); a failure
    to start stops what had started."""
    application = Application(settings, worker=worker, serve_argv=serve_argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await application.start()
        if application.link is not None:
            waits = (
                loop.create_task(application.link.closed.wait()),
                loop.create_task(stop.wait()),
            )
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
        else:
            await stop.wait()
        log.info("stopping: draining what is in flight")
    finally:
        await application.stop()
