"""A worker's Charger: the main process charges for it over the worker channel.

The main process alone holds the Diameter connections (one Origin-Host, one set of peers, one
deferred-charging replayer); a worker sends each MO's charging event there (CHARGE) and awaits
the result (CHARGED). The main process's Ro client applies Tx, failover and failure handling,
so an answer always comes while it lives; if the channel closes, or no answer comes within
`wait_s`, the charge fails with ChargingUnavailable, which the charging gate treats as it
treats its own client failing (failure_handling).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from charging.ccr import SmsChargingEvent
from charging.client import ChargeResult
from charging.errors import ChargingUnavailable
from smsc.workers.charge_frames import decode_result, encode_event
from smsc.workers.frames import FrameError, FrameKind

log = logging.getLogger(__name__)


class RemoteCharger:
    """Charger (smsc/service/ports.py) of a worker process."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._send: Callable[[FrameKind, bytes], bool] | None = None
        self._pending: dict[int, asyncio.Future[ChargeResult]] = {}
        self._next_id = 0

    def attach(self, send: Callable[[FrameKind, bytes], bool]) -> None:
        """The channel to the main process (a frame kind and body; False if it is closed)."""
        self._send = send

    @property
    def in_flight(self) -> int:
        """Charges waiting for the main process."""
        return len(self._pending)

    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        """The main process's result for this event; ChargingUnavailable without one."""
        send = self._send
        if send is None:
            raise ChargingUnavailable("the channel to the main process is not open yet")
        self._next_id = request_id = (self._next_id + 1) & 0xFFFFFFFF
        future: asyncio.Future[ChargeResult] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if not send(FrameKind.CHARGE, encode_event(request_id, event)):
                raise ChargingUnavailable("the main process is gone")
            return await asyncio.wait_for(future, self.wait_s)
        except TimeoutError as exc:
            raise ChargingUnavailable("no charging result from the main process") from exc
        finally:
            self._pending.pop(request_id, None)

    async def charge_again(self, ccr: bytes) -> ChargeResult:
        """Deferred CCRs are the main process's: a worker never sends one."""
        raise ChargingUnavailable("deferred CCRs are sent by the main process")

    def answered(self, body: bytes) -> None:
        """A CHARGED frame from the main process."""
        try:
            request_id, result = decode_result(body)
        except FrameError as exc:
            log.error("unreadable charging result from the main process: %s", exc)
            return
        future = self._pending.get(request_id)
        if future is None or future.done():
            return  # given up on already
        if isinstance(result, ChargingUnavailable):
            future.set_exception(result)
        else:
            future.set_result(result)

    def channel_closed(self) -> None:
        """Every charge in flight fails: no result can come any more."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ChargingUnavailable("the main process is gone"))
