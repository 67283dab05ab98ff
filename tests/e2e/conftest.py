"""A running SMSC (the real Application, SQLite in a temp dir) and its address for the tests."""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from smsc.app import Application
from smsc.settings import Settings
from tests.e2e.peer import UdpPeer, udp_peer
from tests.e2e.smpp_clients import AioEsme, SmpplibEsme

PG_URL = os.environ.get(
    "SMSC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
"""The PostgreSQL the tests use (SQLAlchemy URL); asyncpg takes it without '+asyncpg'."""


@pytest.fixture
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema name (the SMSC creates it), dropped afterwards. PostgreSQL
    unreachable: the test fails in CI and is skipped elsewhere."""
    try:
        connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unavailable in CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    try:
        yield schema
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """`storage` settings for each database in turn, without Redis: {} is the default SQLite
    file in the test's folder, else PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        return {}
    return {"database_url": PG_URL, "schema": request.getfixturevalue("postgres_schema")}


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    port = free_port()
    base = Settings()
    sip = dataclasses.replace(
        base.sip, listen=(f"udp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}"), t1_ms=100
    )
    storage = dataclasses.replace(
        base.storage, database_url=f"sqlite+aiosqlite:///{tmp_path / 'smsc.db'}"
    )
    http = dataclasses.replace(base.http, listen=f"127.0.0.1:{free_port()}")
    settings = dataclasses.replace(base, sip=sip, storage=storage, http=http)
    for name, values in sections.items():
        settings = dataclasses.replace(
            settings, **{name: dataclasses.replace(getattr(settings, name), **values)}
        )
    return settings


Starter = Callable[..., Any]


@pytest.fixture
async def start_smsc(tmp_path: Path) -> AsyncIterator[Starter]:
    """Start Applications with overridden settings; all are stopped after the test."""
    running: list[Application] = []

    async def start(**sections: dict[str, Any]) -> Application:
        application = Application(make_settings(tmp_path / str(len(running)), **sections))
        os.makedirs(tmp_path / str(len(running)), exist_ok=True)
        await application.start()
        running.append(application)
        return application

    yield start
    for application in reversed(running):
        await application.stop()


def sip_port(application: Application) -> int:
    return int(application.settings.sip.listen[0].rsplit(":", 1)[1])


def http_base(application: Application) -> str:
    return f"http://{application.settings.http.listen}"


@pytest.fixture
async def scscf() -> AsyncIterator[UdpPeer]:
    """The test S-CSCF (and the UEs behind it) over UDP on a free port."""
    peer = await udp_peer()
    yield peer
    peer.close()


@pytest.fixture
async def esmes() -> AsyncIterator[list[SmpplibEsme | AioEsme]]:
    """ESMEs a test opens; all closed after it."""
    opened: list[SmpplibEsme | AioEsme] = []
    yield opened
    for esme in opened:
        await esme.close()
