"""CPU cost of committing MO rows to SQLite, as the store does before every RP-ACK.

Migrates a fresh SQLite file with the project's schema, builds NewMessage rows shaped like
the MO benchmark's, and inserts them with `SqliteBatchWriter` (the writer thread of the
store: one transaction per batch) in batches of the given sizes. Prints thread CPU and wall
time per row, and the cost of building the rows (`sqlite_message_row`, on the event loop).
Each batch size runs twice, interleaved: with each MO's duplicate key taken in the same
transaction (as the store does) and, for comparison, without (`..._no_keys`).

    python bench/store_insert.py [--rows 30000] [--batch 30 --batch 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import print_figures
from smsc.service.model import MessageOrigin, NewMessage
from smsc.service.shared_state import duplicate_key
from smsc.store.sql import SqlMessageStore
from smsc.store.sqlite_writer import (
    DuplicateRow,
    Row,
    SqliteBatchWriter,
    sqlite_message_row,
    sqlite_time,
)


def _messages(count: int) -> list[NewMessage]:
    now = datetime.now(UTC)
    return [
        NewMessage(
            submission_id=f"4917000{i % 64:05d}-lg1234-{i % 64}-{i}@127.0.0.1-{i % 256}",
            origin=MessageOrigin.MO,
            originator=f"4917000{i % 64:05d}",
            originator_ton=1,
            recipient="491710000001",
            submit_tpdu=bytes(40),
            received_at=now,
            expires_at=now + timedelta(days=1),
            text=f"Load test message {i}",
            rp_mr=i % 256,
            source="udp:127.0.0.1:5090",
            call_id=f"lg1234-{i % 64}-{i}@127.0.0.1",
            tp_mr=i % 256,
            roaming_status="home",
            visited_plmn="26201",
        )
        for i in range(count)
    ]


def _keys(messages: list[NewMessage], salt: str) -> list[DuplicateRow | None]:
    """Each message's duplicate key (unique per run: `salt`) and window end, as the MO path
    makes them."""
    until = sqlite_time(datetime.now(UTC) + timedelta(seconds=60))
    return [
        (
            duplicate_key(m.originator + salt, m.rp_mr or 0, m.submit_tpdu + m.call_id.encode()),
            until,
        )
        if m.call_id is not None
        else None
        for m in messages
    ]


def _insert_all(
    path: str, rows: list[Row], keys: list[DuplicateRow | None], batch: int
) -> tuple[float, float]:
    """(thread CPU s, wall s) to insert `rows` in batches, in one thread as the store does."""
    writer = SqliteBatchWriter(path)
    now = sqlite_time(datetime.now(UTC))
    cpu = time.thread_time()
    wall = time.perf_counter()
    for start in range(0, len(rows), batch):
        ids = writer._insert(rows[start : start + batch], keys[start : start + batch], now)
        if None in ids:
            raise RuntimeError("a benchmark row was taken for a duplicate")
    figures = time.thread_time() - cpu, time.perf_counter() - wall
    writer._disconnect()
    return figures


def _in_a_thread(
    path: str, rows: list[Row], keys: list[DuplicateRow | None], batch: int
) -> tuple[float, float]:
    """`_insert_all` in a thread of its own, as the store's writer thread runs it."""
    result: list[tuple[float, float]] = []
    thread = threading.Thread(target=lambda: result.append(_insert_all(path, rows, keys, batch)))
    thread.start()
    thread.join()
    return result[0]


def run(count: int, batches: list[int]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-insert-"))
    try:
        path = str(workdir / "smsc.db")

        async def migrate() -> None:
            store = SqlMessageStore(f"sqlite+aiosqlite:///{path}")
            await store.start()
            await store.close()

        asyncio.run(migrate())
        messages = _messages(count)
        stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        started = time.process_time()
        rows = [sqlite_message_row(message, stamp) for message in messages]
        figures: dict[str, Any] = {
            "rows": count,
            "row_building_us": round((time.process_time() - started) / count * 1e6, 2),
        }
        for batch in batches:
            for name, keys in (
                (f"batch_{batch}", _keys(messages, f"/{batch}")),
                (f"batch_{batch}_no_keys", [None] * count),
            ):
                cpu, wall = _in_a_thread(path, rows, keys, batch)
                figures[name] = {
                    "cpu_us_per_row": round(cpu / count * 1e6, 2),
                    "wall_us_per_row": round(wall / count * 1e6, 2),
                }
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.rows, args.batch or [30, 200])
    print_figures(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
