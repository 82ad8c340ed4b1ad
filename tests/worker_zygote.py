"""Starts `unghost worker` processes quickly, for the crash test: import once, fork many.

    python tests/worker_zygote.py DB_URL AS_OF      (settings from the environment)

Each line `spawn` on stdin forks a new process that runs the worker loop exactly as
`unghost worker` does (`unghost.worker.run`) and answers with its pid; the test kills
that pid with SIGKILL. Python needs about a second to import unghost; forking from a
process that already has saves that second on each of the fifty restarts. Every child
shares one clock: AS_OF plus the wall time since this process started. The engine is
made, and the planner's queries compiled, here once (in a transaction rolled back); each
child drops the inherited connections and opens its own (SQLAlchemy's rule for fork).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from unghost import worker
from unghost.services.plan import default_playbook, plan
from unghost.services.send import write
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine


class _Rollback(Exception):
    pass


def _warm(engine: Engine, settings: Settings, as_of: datetime) -> None:
    """Load the playbook and compile the planner's queries once, changing nothing."""
    playbook = default_playbook(settings.playbook_dir)
    try:
        with write(engine) as session:
            owners = list(session.scalars(select(m.User.id)))
            plan(session, owners, as_of, playbook=playbook)
            raise _Rollback
    except _Rollback:
        pass


def main() -> None:
    settings = Settings.load(os.environ, db=sys.argv[1])
    as_of = datetime.fromisoformat(sys.argv[2])
    started = time.time()
    engine = make_engine(settings)
    _warm(engine, settings, as_of)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    for line in sys.stdin:
        if line.strip() != "spawn":
            break
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            engine.dispose(close=False)  # the child opens its own connections
            code = 0
            try:
                worker.run(
                    settings,
                    now_fn=lambda: as_of + timedelta(seconds=time.time() - started),
                    engine=engine,
                )
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
