"""The main process's side of `sip.workers`: it starts the worker processes, restarts one
that dies, relays SIP datagrams to the process that must handle them, takes their MT wake-ups
and metrics, and stops them (each drains what it has in flight) before it stops itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smsc.api.metrics import SnapshotError
from smsc.startup import EXIT_CONFIGURATION
from smsc.workers.channel import Channel
from smsc.workers.frames import (
    Charging,
    Datagram,
    Frame,
    FrameKind,
    MetricsSnapshot,
    Ready,
    Wake,
    encode,
    encode_datagram,
)

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
"""A worker that died is started again after this long (not in a tight loop)."""

STOP_TIMEOUT_S = 20.0
"""How long a worker gets to drain after SIGTERM before it is killed (within systemd's 30 s)."""

WORKER_OPTION = "--worker"
"""The hidden `smsc serve` option that makes a process a worker: INDEX:PROCESSES:FD."""


@dataclass(slots=True)
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    channel: Channel | None = None
    ready: bool = False
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


class WorkerPool:
    """Worker processes 1 .. processes-1 of this `smsc serve` (this one is 0)."""

    def __init__(
        self,
        processes: int,
        serve_argv: Sequence[str],
        *,
        on_datagram: Callable[[bytes, tuple[str, int]], None],
        on_wake: Callable[[str], None],
        on_metrics: Callable[[str, Any], None],
        on_gone: Callable[[str], None],
        on_charge: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self.processes = processes
        self._argv = list(serve_argv)
        self._on_datagram = on_datagram
        self._on_wake = on_wake
        self._on_metrics = on_metrics
        self._on_gone = on_gone
        self._on_charge = on_charge
        self._workers = {index: _Worker(index) for index in range(1, processes)}
        self._stopping = False

    @property
    def ready(self) -> int:
        """Workers serving now."""
        return sum(1 for worker in self._workers.values() if worker.ready)

    async def start(self) -> None:
        for worker in self._workers.values():
            await self._spawn(worker)

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until every worker serves (or the timeout); whether they all do."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.ready < len(self._workers) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self.ready == len(self._workers)

    def forward(self, index: int, data: bytes, source: tuple[str, int]) -> None:
        """Hand a SIP datagram to worker ``index`` (dropped if it is not running)."""
        worker = self._workers.get(index)
        if worker is None or worker.channel is None:
            return
        worker.channel.send(encode_datagram(source, data))

    def answer_charge(self, index: int, body: bytes) -> None:
        """A CHARGED frame to worker ``index`` (dropped if it is not running any more)."""
        worker = self._workers.get(index)
        if worker is not None and worker.channel is not None:
            worker.channel.send(encode(Charging(FrameKind.CHARGED, body)))

    async def _spawn(self, worker: _Worker) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        option = f"{worker.index}:{self.processes}:{child.fileno()}"
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "smsc.cli",
                *self._argv,
                WORKER_OPTION,
                option,
                pass_fds=(child.fileno(),),
            )
        except OSError:
            parent.close()
            raise
        finally:
            child.close()
        worker.process, worker.ready = process, False
        worker.channel = Channel(parent, lambda frame: self._frame(worker, frame))
        worker.channel.start()
        worker.watcher = asyncio.get_running_loop().create_task(self._watch(worker))
        log.info("SIP worker %d started (pid %d)", worker.index, process.pid)

    async def _watch(self, worker: _Worker) -> None:
        process = worker.process
        assert process is not None
        status = await process.wait()
        worker.ready = False
        if worker.channel is not None:
            worker.channel.close()
            worker.channel = None
        self._on_gone(str(worker.index))
        if self._stopping:
            return
        if status == 0:  # it was told to stop (SIGTERM or SIGINT to it, or to the group)
            log.info("SIP worker %d (pid %d) stopped", worker.index, process.pid)
            return
        if status == EXIT_CONFIGURATION:  # it would fail the same way again
            log.error(
                "SIP worker %d could not start (configuration); not started again", worker.index
            )
            return
        log.error(
            "SIP worker %d (pid %d) exited with status %s; starting it again in %.0f s",
            worker.index,
            process.pid,
            status,
            RESTART_DELAY_S,
        )
        await asyncio.sleep(RESTART_DELAY_S)
        if not self._stopping:
            await self._spawn(worker)

    def _frame(self, worker: _Worker, frame: Frame) -> None:
        match frame:
            case Datagram(source, data):
                self._on_datagram(data, source)
            case Wake(recipient):
                self._on_wake(recipient)
            case MetricsSnapshot(samples):
                try:
                    self._on_metrics(str(worker.index), samples)
                except SnapshotError as exc:
                    log.warning("SIP worker %d: %s", worker.index, exc)
            case Ready():
                worker.ready = True  # it logs so itself
            case Charging(FrameKind.CHARGE, body) if self._on_charge is not None:
                self._on_charge(worker.index, body)
            case _:
                log.warning("SIP worker %d: unexpected %s", worker.index, frame)

    async def stop(self) -> None:
        """SIGTERM to every worker; each drains its MO in flight and exits (killed after
        STOP_TIMEOUT_S)."""
        self._stopping = True
        running = [w for w in self._workers.values() if w.process is not None]
        for worker in running:
            assert worker.process is not None
            if worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGTERM)
        for worker in running:
            assert worker.process is not None
            try:
                await asyncio.wait_for(worker.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error(
                    "SIP worker %d did not stop in %.0f s: killed", worker.index, STOP_TIMEOUT_S
                )
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            if worker.watcher is not None:
                await worker.watcher
