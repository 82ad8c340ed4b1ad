"""How fast a big workspace JSON imports into SQLite.

    .venv/bin/python bench/import_workspace.py [--deals 100000] [--touches-per-deal 20]

Prints the import time of the whole file (target: 100,000 deals and 2,000,000
touches under 60 s), and, as a baseline measured in the same process, the time
the bare sqlite3 module takes to insert the same number of touch rows into a
table of the same shape: the floor no importer can beat on this machine.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from generate import workspace
from unghost.services.workspace import import_file
from unghost.settings import Settings
from unghost.store.db import make_engine


def baseline(rows: int, folder: Path) -> float:
    """Seconds for sqlite3 alone to insert `rows` touch-shaped rows with the same index."""
    db = sqlite3.connect(folder / f"baseline-{time.monotonic_ns()}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, deal_id INT, contact_id INT, fingerprint TEXT,"
        " at DATETIME, channel TEXT, direction TEXT, outcome TEXT, subject TEXT, body TEXT,"
        " play TEXT, variant TEXT, content_key TEXT)"
    )
    db.execute("CREATE INDEX ix ON t (deal_id, at)")
    data = [
        (
            i // 20,
            i // 20,
            f"{i:032x}",
            f"2026-01-01 00:00:{i % 60:02d}.000000",
            "email",
            "out",
            "sent",
            "Re: deal",
            "Thanks, let us talk next week.",
            None,
            None,
            None,
        )
        for i in range(rows)
    ]
    start = time.perf_counter()
    db.execute("BEGIN")
    for k in range(0, rows, 20_000):
        db.executemany("INSERT INTO t VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?)", data[k : k + 20_000])
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--touches-per-deal", type=int, default=20)
    parser.add_argument("--small-runs", type=int, default=3, help="repeats of the 1/10 size run")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {_load()} before the runs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        doc = workspace(args.deals, args.touches_per_deal)
        path = folder / "workspace.json"
        path.write_bytes(orjson.dumps(doc))
        touches = len(doc["touches"])
        del doc
        print(
            f"generated {args.deals:,} deals, {touches:,} touches "
            f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )

        # Repeated runs at a tenth of the size give a median and a ratio to the baseline.
        small = folder / "small.json"
        small.write_bytes(orjson.dumps(workspace(args.deals // 10, args.touches_per_deal)))
        ours, floor = [], []
        for i in range(args.small_runs):
            engine = make_engine(Settings(database_url=f"sqlite:///{folder}/s{i}.db", home=folder))
            start = time.perf_counter()
            import_file(engine, small)
            ours.append(time.perf_counter() - start)
            engine.dispose()
            floor.append(baseline(touches // 10, folder))
        m_ours, m_floor = statistics.median(ours), statistics.median(floor)
        print(
            f"1/10 size, median of {args.small_runs}: import {m_ours:.2f} s, "
            f"bare sqlite3 insert of the touches {m_floor:.2f} s, ratio {m_ours / m_floor:.1f}x"
        )

        engine = make_engine(Settings(database_url=f"sqlite:///{folder}/full.db", home=folder))
        start = time.perf_counter()
        result = import_file(engine, path)
        elapsed = time.perf_counter() - start
        print(
            f"full import: {elapsed:.1f} s for {result.created['deals']:,} deals and "
            f"{result.created['touches']:,} touches ({touches / elapsed:,.0f} touches/s); "
            f"target < 60 s: {'met' if elapsed < 60 else 'MISSED'}"
        )
        start = time.perf_counter()
        again = import_file(engine, path)
        print(
            f"re-import of the same file: {time.perf_counter() - start:.1f} s, "
            f"changed nothing: {not again.changed}"
        )
        engine.dispose()
    # Other work on the machine slows every figure above; the load says how much there was.
    print(f"load average {_load()} after the runs")


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


if __name__ == "__main__":
    main()
