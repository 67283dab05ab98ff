"""The store's engine keeps subscriber data out of the errors that end up in the log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from smsc.store.migrate import create_engine

NUMBER = "491710000123"


async def test_a_failed_statement_does_not_carry_its_parameters() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as connection:
            with pytest.raises(StatementError) as failed:
                await connection.execute(
                    sa.text("SELECT * FROM nowhere WHERE n = :n"), {"n": NUMBER}
                )
    finally:
        await engine.dispose()
    assert "nowhere" in str(failed.value)  # the statement is still there to debug with
    assert NUMBER not in str(failed.value)
