"""Exactly once, whatever happens: workers killed mid-send, replies racing a send, two
workers sharing a PostgreSQL queue, and a clean stop on SIGTERM.

Workers run as real processes; every count is taken on the SMTP server's side.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailservers import Arrival, ImapAccount, SmtpServer
from outbox_helpers import AS_OF, TEST_KEY, connect_mailbox, make_setup, silent_workspace
from servers import fresh_postgres_database
from unghost import worker
from unghost.services import plan as planning
from unghost.services.secretkey import load_key
from unghost.services.send import Sender, lock_deal, write
from unghost.services.touches import record_touch
from unghost.store import models as m
from unghost.store.liveness import worker_lock

ZYGOTE = Path(__file__).with_name("worker_zygote.py")
KILLS = 50


def unghost(*args: str) -> list[str]:
    """`unghost ARGS…` as a process."""
    return [sys.executable, "-m", "unghost", *args]


def worker_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNGHOST_")}
    env.update(UNGHOST_HOME=str(home), UNGHOST_SECRET_KEY=TEST_KEY,
               UNGHOST_SENT_SETTLE_SECONDS="0", UNGHOST_POLL_SECONDS="0.2")  # fmt: skip
    return env


class SentFiler:
    """The provider's habit the outbox relies on: what it accepts, it files in Sent first."""

    def __init__(self, account: ImapAccount) -> None:
        self.imap = account.connect()
        self.lock = threading.Lock()

    def __call__(self, arrival: Arrival) -> None:
        with self.lock:
            status, data = self.imap.append('"Sent"', r"(\Seen)", None, arrival.data)
            assert status == "OK", data

    def close(self) -> None:
        self.imap.logout()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- the crash test ------------------------------------------------------------------------------


def test_a_worker_killed_fifty_times_sends_each_of_200_messages_exactly_once(
    tmp_path: Path, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    url = f"sqlite:///{tmp_path}/crash.db"
    home = tmp_path / "home"
    setup = make_setup(url, home, silent_workspace(200))
    # The provider files sent mail itself (like Gmail): the Sent folder is the proof.
    connect_mailbox(setup, smtp, imap_account, copy_to_sent=False)
    setup.engine.dispose()
    filer = SentFiler(imap_account)
    smtp.sink.on_accept = filer
    env = worker_env(home)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    started = time.time()
    with open(tmp_path / "workers.log", "wb") as log:
        zygote = subprocess.Popen(
            [sys.executable, str(ZYGOTE), url, AS_OF.isoformat()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True,
        )  # fmt: skip
        assert zygote.stdin is not None and zygote.stdout is not None
        try:
            for _ in range(KILLS):
                before = smtp.sink.count()
                zygote.stdin.write("spawn\n")
                zygote.stdin.flush()
                pid = int(zygote.stdout.readline())
                # Kill at a random point around the next few sends: after k of them, and
                # up to 30 ms later (before, in or after the server's answer, the commit…).
                target = min(before + rng.randint(0, 4), 200)
                wait_until(lambda: smtp.sink.count() >= target, timeout=5)  # noqa: B023
                time.sleep(rng.uniform(0, 0.03))
                os.kill(pid, signal.SIGKILL)
                assert wait_until(lambda: gone(pid), timeout=5)  # noqa: B023
        finally:
            zygote.stdin.close()
            zygote.wait(timeout=10)
            zygote.stdout.close()
    during = smtp.sink.count()
    finish_at = AS_OF + timedelta(seconds=time.time() - started) + timedelta(minutes=2)
    result = subprocess.run(unghost("--db", url, "worker", "--once", "--as-of",
                                    finish_at.isoformat()),
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    filer.close()
    assert result.returncode == 0, result.stderr

    ids = smtp.sink.message_ids()
    twice = [mid for mid, n in Counter(ids).items() if n > 1]
    assert not twice, f"sent twice (seed {seed}): {twice}"
    recipients = Counter(a.rcpt_tos[0] for a in smtp.sink.arrivals)
    assert len(recipients) == 200 and set(recipients.values()) == {1}, f"seed {seed}"
    engine = make_setup(url, home).engine
    with write(engine) as s:
        rows = list(s.scalars(select(m.OutboxMessage)))
        assert {r.message_id for r in rows if r.state == "sent"} == set(ids)
        assert not [r.id for r in rows if r.state in ("queued", "sending", "unknown")]
        sent_steps = Counter(s.scalars(select(m.Step.deal_id).where(m.Step.status == "sent")).all())
        assert len(sent_steps) == 200 and set(sent_steps.values()) == {1}
        touches = s.scalar(
            select(func.count())
            .select_from(m.Touch)
            .where(m.Touch.play == "transparent-check-in", m.Touch.direction == "out")
        )
        assert touches == 200
        settled = Counter(
            reply
            for (reply,) in s.execute(
                select(m.SendAttempt.reply).where(
                    m.SendAttempt.outcome.in_(("sent", "interrupted")),
                    m.SendAttempt.reply.like("%interrupt%")
                    | m.SendAttempt.reply.like("%never went%"),
                )
            )
        )
    engine.dispose()
    assert sorted(imap_account.message_ids("Sent")) == sorted(ids)
    print(
        f"\ncrash test (seed {seed}): {KILLS} kills, {during} sent while killing, "
        f"{len(ids) - during} after; interrupted sends settled: {dict(settled)}; "
        f"{time.time() - started:.1f}s"
    )


# --- replies racing a send -----------------------------------------------------------------------


def record_reply(engine: object, deal_key: str, at: object) -> None:
    """A reply recorded as the inbox records one: the deal locked, the touch, the replan."""
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with write(engine) as s:
        deal = s.scalar(select(m.Deal).where(m.Deal.key == deal_key))
        assert deal is not None
        lock_deal(s, deal.id)
        record_touch(
            s,
            [deal.owner_id],
            deal=deal_key,
            channel="email",
            direction="in",
            outcome="replied",
            at=at,
            subject="Re: your note",
        )  # type: ignore[arg-type]
        planning.plan(s, [deal.owner_id], at, playbook=planning.default_playbook(),  # type: ignore[arg-type]
                      deal_ids=[deal.id])  # fmt: skip


def test_a_reply_recorded_while_a_message_is_on_the_wire_waits_for_it(
    db_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    setup = make_setup(db_url, tmp_path / "home", silent_workspace(2))
    connect_mailbox(setup, smtp)
    committed: list[float] = []
    errors: list[BaseException] = []

    def reply() -> None:
        try:
            record_reply(setup.engine, "deal-p000", AS_OF + timedelta(seconds=1))
            committed.append(time.time())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reply)

    def on_accept(arrival: Arrival) -> None:
        if arrival.rcpt_tos == ["p000@prospects.example"] and not thread.is_alive():
            thread.start()  # the prospect answers while our message is being handed over
            thread.join(1.0)

    smtp.sink.on_accept = on_accept
    try:
        worker.run(setup.settings, once=True, now_fn=lambda: AS_OF, engine=setup.engine)
        thread.join(30)
        assert not errors and committed
        to_pat = [a for a in smtp.sink.arrivals if a.rcpt_tos == ["p000@prospects.example"]]
        assert len(to_pat) == 1 and to_pat[0].at < committed[0], "nothing after the reply"

        worker.run(setup.settings, once=True, now_fn=lambda: AS_OF + timedelta(days=8),
                   engine=setup.engine)  # fmt: skip
        later = [a.rcpt_tos for a in smtp.sink.arrivals[2:]]
        assert later == [["p001@prospects.example"]], "the silent one is followed up, not Pat"
        with write(setup.engine) as s:
            deal = s.scalar(select(m.Deal).where(m.Deal.key == "deal-p000"))
            assert deal is not None and deal.state == "active"
            open_steps = s.scalar(
                select(func.count())
                .select_from(m.Step)
                .where(m.Step.deal_id == deal.id, m.Step.status.in_(planning.OPEN))
            )
            assert open_steps == 0
    finally:
        setup.engine.dispose()


@pytest.mark.parametrize("event", ["reply", "unsubscribe", "bounce"])
def test_contact_recorded_after_queueing_cancels_the_message(
    db_url: str, tmp_path: Path, smtp: SmtpServer, event: str
) -> None:
    setup = make_setup(db_url, tmp_path / "home", silent_workspace(1))
    connect_mailbox(setup, smtp)
    try:
        with write(setup.engine) as s:
            owners = list(s.scalars(select(m.User.id)))
            planning.plan(s, owners, AS_OF, playbook=planning.default_playbook())
        from unghost.services.outbox import queue_due

        assert queue_due(setup.engine, AS_OF) == 1
        # Recorded after the message was queued, without replanning (as an import might).
        with write(setup.engine) as s:
            pat = s.scalar(select(m.Contact).where(m.Contact.key == "p000"))
            assert pat is not None
            if event == "reply":
                record_touch(s, owners, deal="deal-p000", channel="email", direction="in",
                             outcome="replied", at=AS_OF + timedelta(minutes=1))  # fmt: skip
            elif event == "unsubscribe":
                pat.do_not_contact = True
            else:
                pat.email_bad = True
        with worker_lock(setup.engine) as lock:
            sender = Sender(setup.engine, setup.settings, lock, load_key(setup.settings),
                            planning.default_playbook())  # fmt: skip
            assert sender.send_one(AS_OF + timedelta(minutes=2))
        assert smtp.sink.count() == 0
        with write(setup.engine) as s:
            [row] = s.scalars(select(m.OutboxMessage))
            assert row.state == "cancelled" and row.last_error
            assert row.last_error.startswith("no longer planned"), row.last_error
    finally:
        setup.engine.dispose()


# --- two workers, one PostgreSQL queue -----------------------------------------------------------


@pytest.mark.postgres
def test_two_workers_on_postgresql_send_each_of_100_messages_once(
    pg_admin_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    home = tmp_path / "home"
    with fresh_postgres_database(pg_admin_url) as url:
        setup = make_setup(url, home, silent_workspace(100))
        connect_mailbox(setup, smtp)
        setup.engine.dispose()
        smtp.sink.on_accept = lambda arrival: time.sleep(0.02)
        command = unghost("--db", url, "worker", "--once", "--as-of", AS_OF.isoformat())
        procs = [
            subprocess.Popen(command, env=worker_env(home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]

        recipients = Counter(a.rcpt_tos[0] for a in smtp.sink.arrivals)
        assert len(recipients) == 100 and set(recipients.values()) == {1}
        assert len(set(smtp.sink.message_ids())) == 100
        engine = make_setup(url, home).engine
        try:
            with write(engine) as s:
                rows = list(s.scalars(select(m.OutboxMessage)))
                touches = Counter(
                    s.scalars(
                        select(m.Touch.deal_id).where(
                            m.Touch.play == "transparent-check-in", m.Touch.direction == "out"
                        )
                    ).all()
                )
        finally:
            engine.dispose()
        assert len(touches) == 100 and set(touches.values()) == {1}
        sent = [r for r in rows if r.state == "sent"]
        assert len(sent) == 100
        # A plan made from a moment-old snapshot by the other worker may queue a step the
        # first one had just sent; the check under the deal's lock stops it.
        others = [(r.state, r.last_error) for r in rows if r.state != "sent"]
        assert all(s == "cancelled" and (e or "").startswith("no longer planned")
                   for s, e in others), others  # fmt: skip
        workers = Counter(r.claimed_by for r in sent)
        assert len(workers) == 2, f"both workers sent: {workers}"


# --- a clean stop --------------------------------------------------------------------------------


def test_sigterm_stops_the_worker_after_the_message_in_hand(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    url = f"sqlite:///{tmp_path}/stop.db"
    home = tmp_path / "home"
    setup = make_setup(url, home, silent_workspace(20))
    connect_mailbox(setup, smtp)
    setup.engine.dispose()
    smtp.sink.on_accept = lambda arrival: time.sleep(0.3)
    proc = subprocess.Popen(unghost("--db", url, "worker", "--as-of", AS_OF.isoformat()),
                            env=worker_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert wait_until(lambda: smtp.sink.count() >= 1, timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopping after the current message" in err
    engine = make_setup(url, home).engine
    try:
        with write(engine) as s:
            states = Counter(s.scalars(select(m.OutboxMessage.state)).all())
    finally:
        engine.dispose()
    assert states["sending"] == 0 and states["unknown"] == 0
    assert states["sent"] == smtp.sink.count() < 20
