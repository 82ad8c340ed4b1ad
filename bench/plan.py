"""How fast the planner plans: the sample workspace, and 100,000 generated open deals.

    .venv/bin/python bench/plan.py [--deals 100000] [--touches-per-deal 8] [--runs 3]

Targets (issue 3): the sample workspace in under 1 s; 100,000 open deals in under
10 s on SQLite. Each figure is a median; the baseline, measured in the same
process, is the bare read of the same touch rows with sqlite3 alone.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import workspace
from unghost.services import plan as planning
from unghost.services.demo import sample_anchor, sample_document
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store.db import make_engine, transaction


def timed(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--touches-per-deal", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    playbook = planning.default_playbook()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        doc = sample_document()
        engine = make_engine(Settings(database_url=f"sqlite:///{folder}/s.db", home=folder))
        import_document(engine, doc)
        now = sample_anchor(doc)

        def plan_sample() -> None:
            with transaction(engine) as session:
                planning.plan(session, [1], now, playbook=playbook)

        plan_sample()  # the first run writes every step; later runs find them in place
        sample = timed(plan_sample, args.runs * 3)
        print(
            f"sample workspace ({len(doc['deals'])} deals): plan {sample * 1000:.0f} ms "
            f"median of {args.runs * 3}; target < 1 s: {'met' if sample < 1 else 'MISSED'}"
        )
        engine.dispose()

        big = workspace(args.deals, args.touches_per_deal)
        db = folder / "big.db"
        engine = make_engine(Settings(database_url=f"sqlite:///{db}", home=folder))
        start = time.perf_counter()
        import_document(engine, big)
        print(
            f"generated and imported {args.deals:,} open deals with "
            f"{len(big['touches']):,} touches in {time.perf_counter() - start:.1f} s"
        )
        now = datetime.fromisoformat("2026-11-23T09:00:00-05:00")
        del big

        def plan_big() -> None:
            with transaction(engine) as session:
                planning.plan(session, [1], now, playbook=playbook)

        start = time.perf_counter()
        plan_big()
        first = time.perf_counter() - start
        again = timed(plan_big, args.runs)

        def bare_read() -> None:
            con = sqlite3.connect(db)
            con.execute(
                "SELECT deal_id, contact_id, at, channel, direction, outcome, play, "
                "variant, content_key, body FROM touches ORDER BY deal_id, at"
            ).fetchall()
            con.close()

        floor = timed(bare_read, args.runs)
        print(
            f"{args.deals:,} open deals: first plan (writes every step) {first:.1f} s; "
            f"replan median {again:.1f} s; bare sqlite3 read of the touches {floor:.2f} s "
            f"(ratio {again / floor:.0f}x); target < 10 s: {'met' if first < 10 else 'MISSED'}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
