"""Opening the database (SQLite pragmas, PostgreSQL schema) and running Alembic migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from smsc.store.errors import StoreUnavailable

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "create_engine",
    "current_revision",
    "sqlite_pragmas",
    "upgrade",
    "upgrade_sync",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""The Alembic script directory shipped inside the package."""

_LOCK_KEY = 0x534D5343  # "SMSC": serialises concurrent upgrades on PostgreSQL


def create_engine(database_url: str, *, schema: str | None = None, **options: Any) -> AsyncEngine:
    """An async engine for the store: WAL on SQLite (parent directory created), schema on PG."""
    url = make_url(database_url)
    connect_args: dict[str, Any] = dict(options.pop("connect_args", {}))
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("schema is only supported on PostgreSQL")
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif schema is not None:
        connect_args.setdefault("server_settings", {})["search_path"] = schema
    # Failed statements are logged with their traceback: without their parameters, which hold
    # subscriber numbers and SMS text (logging.show_subscriber_data does not reach down here).
    options.setdefault("hide_parameters", True)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    return engine


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL journal, synchronous NORMAL, foreign keys, and a busy timeout on every connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _upgrade_on(connection: Connection, revision: str, schema: str | None) -> None:
    """Run `alembic upgrade` on an open synchronous connection (inside run_sync)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if schema is not None:
            quoted = connection.dialect.identifier_preparer.quote_schema(schema)
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def run_upgrade(
    engine: AsyncEngine, *, revision: str = "head", schema: str | None = None
) -> None:
    """Migrate the database behind `engine` to `revision` in one transaction."""
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on, revision, schema)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(f"database migration failed: {exc}") from exc


async def upgrade(database_url: str, *, revision: str = "head", schema: str | None = None) -> None:
    """Migrate the database at `database_url` to `revision` (default: the newest)."""
    engine = create_engine(database_url, schema=schema)
    try:
        await run_upgrade(engine, revision=revision, schema=schema)
    finally:
        await engine.dispose()


def upgrade_sync(database_url: str, *, revision: str = "head", schema: str | None = None) -> None:
    """`upgrade` for synchronous callers (e.g. `smsc db upgrade`); starts its own event loop."""
    asyncio.run(upgrade(database_url, revision=revision, schema=schema))


async def current_revision(database_url: str, *, schema: str | None = None) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(database_url, schema=schema)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(f"cannot read the schema revision: {exc}") from exc
    finally:
        await engine.dispose()
