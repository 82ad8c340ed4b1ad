"""`unghost worker`: read mailboxes, replan, queue and send what is due — in small steps.

Each step does one unit of work and says whether it found any (`handle_one() -> bool`);
a pass runs them until none finds more, and the loop sleeps between idle passes. Any
number of workers may share a database: the rows they act on are the rows they won
(services/send.py). SIGTERM and SIGINT stop the worker after the current message.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlalchemy import Engine, func, select

from unghost.services import inbox, outbox
from unghost.services import plan as planning
from unghost.services.secretkey import SecretKey, load_key
from unghost.services.send import Sender, write
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine
from unghost.store.liveness import PG_LOCK_CLASS, worker_lock

log = logging.getLogger("unghost.worker")
REPLAN_EVERY = timedelta(minutes=5)
DRAFT_AHEAD = timedelta(days=2)  # Today shows what is due by tomorrow night
NowFn = Callable[[], datetime]


def read_mailboxes(engine: Engine, settings: Settings, key: SecretKey, now: datetime) -> bool:
    """Read new mail into replies and react to them (services/inbox.py); True when any was new.

    Each mailbox is read at most once a poll interval, however fast the passes come.
    """
    playbook = planning.default_playbook(settings.playbook_dir)
    every = timedelta(seconds=settings.poll_seconds)
    return inbox.read_mailboxes(engine, key, lambda: now, playbook=playbook, every=every) > 0


def clock(as_of: datetime | None = None) -> NowFn:
    """Now; or, from `as_of`, a clock that starts there and runs at the real pace."""
    if as_of is None:
        return lambda: datetime.now(UTC)
    start = time.monotonic()
    return lambda: as_of + timedelta(seconds=time.monotonic() - start)


class Worker:
    """One worker's steps, sharing its lock, key and sender."""

    def __init__(self, engine: Engine, settings: Settings, sender: Sender, now: NowFn) -> None:
        self.engine = engine
        self.settings = settings
        self.sender = sender
        self.now = now
        self.stop = threading.Event()
        self.last_replan: datetime | None = None

    def run_pass(self, *, replan: bool = True) -> bool:
        """Every step until none has more to do (or the worker is told to stop)."""
        did = (
            outbox.recover(self.engine, self.sender.lock, self.settings.sent_settle, self.now()) > 0
        )
        did |= self._repeat(self.resolve_one)
        did |= read_mailboxes(self.engine, self.settings, self.sender.key, self.now())
        if replan:
            self.replan()
        while not self.stop.is_set():
            queued = outbox.queue_due(self.engine, self.now())
            sent = self._repeat(self.send_one)
            did |= queued > 0 or sent
            if queued < outbox.QUEUE_BATCH:
                break
        did |= self._repeat(self.copy_one)
        return did

    def replan(self) -> None:
        """Plan every open deal, so deals that went silent get their step; the steps due
        within `DRAFT_AHEAD` get their words, for the pages that show them."""
        now = self.now()
        with write(self.engine) as s:
            if s.get_bind().dialect.name == "postgresql":
                # One replan of everything at a time across workers.
                s.execute(select(func.pg_advisory_xact_lock(PG_LOCK_CLASS, 0)))
            owners = list(s.scalars(select(m.User.id)))
            if owners:
                planning.refresh(
                    s, owners, now, playbook=self.sender.playbook, draft_due_by=now + DRAFT_AHEAD
                )
        self.last_replan = now

    def resolve_one(self) -> bool:
        """Settle one message interrupted mid-send."""
        return outbox.resolve_one(self.engine, self.settings, self.sender.key, self.now())

    def send_one(self) -> bool:
        """Take one due message and deal with it (sent, retried later, cancelled…)."""
        return self.sender.send_one(self.now())

    @property
    def sent(self) -> int:
        """How many messages this worker handed over for good."""
        return self.sender.sent

    def copy_one(self) -> bool:
        """Retry one copy to a Sent folder."""
        return outbox.copy_one(self.engine, self.sender.key, self.now())

    def _repeat(self, step: Callable[[], bool]) -> bool:
        did = False
        while not self.stop.is_set() and step():
            did = True
        return did

    def loop(self, *, once: bool) -> None:
        """Passes until stopped; idle passes are `poll_seconds` apart. Errors never spin."""
        if once:
            self.run_pass(replan=True)
            return
        while not self.stop.is_set():
            due = self.last_replan is None or self.now() - self.last_replan >= REPLAN_EVERY
            try:
                did = self.run_pass(replan=due)
            except Exception:
                log.exception(
                    "the worker's pass failed; trying again in %gs", self.settings.poll_seconds
                )
                did = False
            if not did:
                self.stop.wait(self.settings.poll_seconds)


def run(
    settings: Settings,
    *,
    once: bool = False,
    now_fn: NowFn | None = None,
    engine: Engine | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the worker (one pass with `once`); returns how many messages it sent."""
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        with worker_lock(engine) as lock, _signals() as signalled:
            sender = Sender(
                engine,
                settings,
                lock,
                load_key(settings),
                planning.default_playbook(settings.playbook_dir),
                local_hostname=ehlo_name(),
            )
            worker = Worker(engine, settings, sender, now_fn or clock())
            if stop is not None:
                worker.stop = stop
            signalled.append(worker.stop)
            log.info("worker %s started%s", lock.id, " (one pass)" if once else "")
            # Between passes, IMAP IDLE brings replies in as they arrive (PRODUCT §5: a
            # follow-up never goes out minutes after a reply); one pass just polls.
            watchers = inbox.Watchers(engine, sender.key, worker.now, playbook=sender.playbook,
                                      poll_seconds=settings.poll_seconds)  # fmt: skip
            signalled.append(watchers.stop)
            if not once:
                watchers.start()
            try:
                worker.loop(once=once)
            finally:
                watchers.close()
            log.info(
                "worker %s stopped after sending %d message%s",
                lock.id,
                worker.sent,
                "" if worker.sent == 1 else "s",
            )
            return worker.sent
    finally:
        if own_engine:
            engine.dispose()


@contextmanager
def _signals() -> Iterator[list[threading.Event]]:
    """SIGTERM and SIGINT set the stop events (only the main thread may catch signals)."""
    events: list[threading.Event] = []
    if threading.current_thread() is not threading.main_thread():
        yield events
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current message", signum)
        for event in events:
            event.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield events
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def ehlo_name() -> str:
    """The name this machine gives in EHLO, without a slow reverse DNS lookup."""
    name = socket.gethostname()
    return name if "." in name else "[127.0.0.1]"
