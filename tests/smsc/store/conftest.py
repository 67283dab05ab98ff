"""Database fixtures: a temp SQLite file, a fresh PostgreSQL schema per test, the memory twin."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from smsc.service.model import MessageOrigin, NewMessage
from smsc.store import MemoryMessageStore, SqlMessageStore
from smsc.store.migrate import alembic_config, create_engine

POSTGRES_URL = os.environ.get(
    "SMSC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)

_postgres_problem: list[str] = []
"""Why PostgreSQL is unusable, found once per session (empty list: not checked yet)."""


@dataclass
class Database:
    """Where a SQL store under test keeps its data."""

    backend: str
    url: str
    schema: str | None = None
    stores: list[SqlMessageStore] = field(default_factory=list)

    def store(self, **options: Any) -> SqlMessageStore:
        """A new, not yet started store on this database; closed at teardown."""
        store = SqlMessageStore(self.url, schema=self.schema, **options)
        self.stores.append(store)
        return store


async def _check_postgres() -> str:
    """'' when PostgreSQL answers, else the reason."""
    if not _postgres_problem:
        engine = create_async_engine(POSTGRES_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            _postgres_problem.append("")
        except (OSError, SQLAlchemyError) as exc:
            _postgres_problem.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            await engine.dispose()
    return _postgres_problem[0]


async def _postgres_database() -> AsyncIterator[Database]:
    """A fresh schema for one test, dropped afterwards."""
    problem = await _check_postgres()
    if problem:
        message = f"PostgreSQL at {POSTGRES_URL} unusable ({problem}); set SMSC_TEST_POSTGRES_URL"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    schema = f"smsc_test_{uuid.uuid4().hex[:16]}"
    database = Database("postgresql", POSTGRES_URL, schema)
    try:
        yield database
    finally:
        for store in database.stores:
            await store.close()
        engine = create_async_engine(POSTGRES_URL)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await engine.dispose()


async def _sqlite_database(directory: Path) -> AsyncIterator[Database]:
    """A SQLite file in a temp directory (in a subfolder that does not exist yet)."""
    database = Database("sqlite", f"sqlite+aiosqlite:///{directory}/var/smsc.db")
    try:
        yield database
    finally:
        for store in database.stores:
            await store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Each SQL backend in turn."""
    source = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    async for database in source:
        yield database


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Database]:
    """PostgreSQL only."""
    async for database in _postgres_database():
        yield database


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only."""
    async for database in _sqlite_database(tmp_path):
        yield database


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MemoryMessageStore | SqlMessageStore]:
    """Every MessageStore implementation, started; the contract tests run against each."""
    if request.param == "memory":
        memory = MemoryMessageStore()
        await memory.start()
        yield memory
        await memory.close()
        return
    source = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    async for database in source:
        sql = database.store()
        await sql.start()
        yield sql


@pytest.fixture
def make_message() -> Callable[..., NewMessage]:
    """A factory of valid NewMessages; keyword arguments override fields."""
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> NewMessage:
        n = next(counter)
        values: dict[str, Any] = {
            "submission_id": f"sub-{n}",
            "origin": MessageOrigin.API,
            "originator": "4915112345678",
            "originator_ton": 1,
            "recipient": "4917612345678",
            "submit_tpdu": bytes([0x01, n % 256, 0x0B, 0x91]) + b"\x00\xff\x80" * 3,
            "received_at": T0,
            "expires_at": T0 + timedelta(days=1),
            "text": f"message {n}",
        }
        values.update(fields)
        return NewMessage(**values)

    return make


async def run_in(database: Database, work: Callable[[Connection], Any]) -> Any:
    """Run `work` in one transaction on the test database (in its schema)."""
    engine = create_engine(database.url, schema=database.schema)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def downgrade_to(revision: str) -> Callable[[Connection], None]:
    """Work for `run_in`: alembic's downgrade to `revision` on that connection."""

    def downgrade(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)

    return downgrade
