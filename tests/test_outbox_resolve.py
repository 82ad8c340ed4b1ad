"""Messages of unknown fate are settled by looking, never by sending again blindly.

A worker that dies after claiming a row leaves it `sending`; the next worker makes it
`unknown` and looks: in the Sent folder (when the provider files what it accepts), in
the outbox folder (without a mailbox), or asks the seller (`unghost outbox resolve`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailservers import Arrival, ImapAccount, SmtpServer
from outbox_helpers import AS_OF, Setup, connect_mailbox, make_setup, silent_workspace
from unghost import worker
from unghost.channels import eml
from unghost.services import plan as planning
from unghost.services.outbox import queue_due, resolve_by_hand
from unghost.services.secretkey import load_key
from unghost.services.send import Sender, write
from unghost.store import models as m
from unghost.store.liveness import worker_lock


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[Setup]:
    made = make_setup(db_url, tmp_path / "home", silent_workspace(1))
    yield made
    made.engine.dispose()


def run_worker(setup: Setup, now: datetime) -> int:
    return worker.run(setup.settings, once=True, now_fn=lambda: now, engine=setup.engine)


def die_after_claiming(setup: Setup, now: datetime, *, deliver: bool = False) -> int:
    """A worker that plans, queues and claims a row, perhaps hands it over, then dies."""
    with write(setup.engine) as s:
        owners = list(s.scalars(select(m.User.id)))
        planning.plan(s, owners, now, playbook=planning.default_playbook())
    assert queue_due(setup.engine, now) == 1
    with worker_lock(setup.engine) as lock:
        sender = Sender(
            setup.engine,
            setup.settings,
            lock,
            load_key(setup.settings),
            planning.default_playbook(),
            smtp_timeout=0.5,
        )
        row_id = sender.claim(now)
        assert row_id is not None
        if deliver:
            sender.deliver(row_id, now)
    return row_id


def the_row(setup: Setup) -> m.OutboxMessage:
    with write(setup.engine) as s:
        [row] = s.scalars(select(m.OutboxMessage))
        return row


def test_a_claimed_row_of_a_dead_worker_not_in_sent_is_sent_once(
    setup: Setup, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    connect_mailbox(setup, smtp, imap_account, copy_to_sent=False)
    die_after_claiming(setup, AS_OF)
    assert the_row(setup).state == "sending"

    assert run_worker(setup, AS_OF + timedelta(minutes=1)) == 1

    row = the_row(setup)
    assert row.state == "sent" and smtp.sink.message_ids() == [row.message_id]
    with write(setup.engine) as s:
        outcomes = [a.outcome for a in s.scalars(select(m.SendAttempt).order_by(m.SendAttempt.id))]
    assert outcomes == ["interrupted", "sent"]


def test_an_unanswered_send_found_in_sent_is_recorded_not_resent(
    setup: Setup, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    connect_mailbox(setup, smtp, imap_account, copy_to_sent=False)

    def file_then_hang(arrival: Arrival) -> None:
        imap_account.append(arrival.data)  # the provider keeps its copy…
        import time

        time.sleep(1.5)  # …and its answer never reaches us

    smtp.sink.on_accept = file_then_hang
    die_after_claiming(setup, AS_OF, deliver=True)
    row = the_row(setup)
    assert row.state == "unknown" and row.last_error
    assert row.last_error.startswith("no answer after the message went out")

    smtp.sink.on_accept = None
    assert run_worker(setup, AS_OF + timedelta(minutes=1)) == 0

    row = the_row(setup)
    assert row.state == "sent" and smtp.sink.count() == 1
    with write(setup.engine) as s:
        step = s.get_one(m.Step, row.step_id)
        assert step.status == "sent" and step.touch_id is not None


def test_when_unghost_files_sent_mail_itself_absence_is_no_proof(
    setup: Setup, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    connect_mailbox(setup, smtp, imap_account, copy_to_sent=True)
    row_id = die_after_claiming(setup, AS_OF)

    assert run_worker(setup, AS_OF + timedelta(minutes=1)) == 0

    row = the_row(setup)
    assert row.state == "unknown" and row.next_attempt_at is None
    assert f"unghost outbox resolve {row_id} --sent" in (row.last_error or "")
    assert smtp.sink.count() == 0
    assert run_worker(setup, AS_OF + timedelta(hours=1)) == 0, "it waits for the seller"


def test_without_imap_the_seller_resolves_by_hand(setup: Setup, smtp: SmtpServer) -> None:
    connect_mailbox(setup, smtp)
    row_id = die_after_claiming(setup, AS_OF)
    run_worker(setup, AS_OF + timedelta(minutes=1))
    row = the_row(setup)
    assert row.state == "unknown" and "no IMAP server" in (row.last_error or "")

    with write(setup.engine) as s:
        owners = list(s.scalars(select(m.User.id)))
        resolve_by_hand(
            s,
            owners,
            row_id,
            sent=False,
            now=AS_OF + timedelta(minutes=2),
            playbook=planning.default_playbook(),
        )
    assert run_worker(setup, AS_OF + timedelta(minutes=3)) == 1
    assert the_row(setup).state == "sent" and smtp.sink.count() == 1


def test_a_row_resolved_by_hand_as_sent_records_the_step(setup: Setup, smtp: SmtpServer) -> None:
    connect_mailbox(setup, smtp)
    row_id = die_after_claiming(setup, AS_OF)
    run_worker(setup, AS_OF + timedelta(minutes=1))

    with write(setup.engine) as s:
        owners = list(s.scalars(select(m.User.id)))
        resolve_by_hand(
            s,
            owners,
            row_id,
            sent=True,
            now=AS_OF + timedelta(minutes=2),
            playbook=planning.default_playbook(),
        )

    row = the_row(setup)
    assert row.state == "sent" and smtp.sink.count() == 0
    with write(setup.engine) as s:
        step = s.get_one(m.Step, row.step_id)
        assert step.status == "sent" and step.touch_id is not None
    assert run_worker(setup, AS_OF + timedelta(minutes=3)) == 0


def test_an_eml_written_by_a_worker_that_died_is_not_written_again(setup: Setup) -> None:
    row_id = die_after_claiming(setup, AS_OF)
    with write(setup.engine) as s:
        message_id = s.get_one(m.OutboxMessage, row_id).message_id
    eml.write(
        setup.settings.outbox_dir, message_id, b"Subject: the bytes the dead worker wrote\r\n"
    )

    run_worker(setup, AS_OF + timedelta(minutes=1))

    assert the_row(setup).state == "sent"
    [path] = setup.settings.outbox_dir.glob("*.eml")
    assert path.read_bytes() == b"Subject: the bytes the dead worker wrote\r\n"


def test_an_eml_that_never_got_written_is_written_once(setup: Setup) -> None:
    die_after_claiming(setup, AS_OF)

    assert run_worker(setup, AS_OF + timedelta(minutes=1)) == 1

    assert the_row(setup).state == "sent"
    assert len(list(setup.settings.outbox_dir.glob("*.eml"))) == 1
