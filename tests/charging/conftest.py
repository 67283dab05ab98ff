"""What the Ro client tests share: a client factory that stops every client it made."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from charging.client import ChargingClient
from smsc.settings import ChargingSettings

SMSC = "+491710760000"
"""The SMSC-Address of the CCRs."""


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., object]]:
    """`await make_client(settings)`: a started ChargingClient, stopped after the test."""
    clients: list[ChargingClient] = []

    async def make(settings: ChargingSettings) -> ChargingClient:
        client = ChargingClient(settings, smsc_address=SMSC)
        clients.append(client)
        await client.start()
        return client

    yield make
    for client in clients:
        await client.stop()
