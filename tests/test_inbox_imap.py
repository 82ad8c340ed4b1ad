"""Reading replies from a real Dovecot on loopback: recorded, reacted to, never twice."""

from __future__ import annotations

import imaplib
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from helpers import small_workspace
from inbox_helpers import (
    GEORGE,
    GERMAN_OUT_OF_OFFICE,
    NOW,
    SENT_ID,
    World,
    hard_bounce_for,
    make_world,
    message,
)
from mailservers import Dovecot, ImapAccount, SmtpServer
from outbox_helpers import connect_mailbox, make_setup
from servers import free_port
from unghost import worker
from unghost.channels.imap import Server
from unghost.channels.imap_inbox import InboxReader
from unghost.services import agenda, inbox
from unghost.services import plan as planning
from unghost.services.inbox import MailboxAccess, mailbox_access, read_mailbox, watch_mailbox
from unghost.services.secretkey import SecretKey
from unghost.services.send import write
from unghost.store import models as m

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def accounts(dovecot: Dovecot) -> Iterator[ImapAccount]:
    """Users made at once, then waited for: Dovecot looks at a changed passwd-file at most once
    a second, so a user added just after another login is refused for a moment (slowly)."""
    made = [dovecot.account() for _ in range(40)]
    deadline = time.monotonic() + 10
    while True:
        imap = imaplib.IMAP4(made[-1].host, made[-1].port, timeout=10)
        try:
            imap.login(made[-1].user, made[-1].password)
            imap.logout()
            break
        except imaplib.IMAP4.error:
            imap.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    return iter(made)


@pytest.fixture
def account(accounts: Iterator[ImapAccount]) -> ImapAccount:
    """A user of its own, with an empty INBOX."""
    return next(accounts)


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    w = make_world(sqlite_url, tmp_path)
    yield w
    w.engine.dispose()


@pytest.fixture
def key() -> SecretKey:
    return SecretKey(Fernet.generate_key())


@pytest.fixture
def mailbox(world: World, account: ImapAccount, key: SecretKey) -> MailboxAccess:
    """The owner's mailbox, stored with its IMAP password sealed, read back as the worker does."""
    with write(world.engine) as s:
        box = m.Mailbox(
            owner_id=world.owner_id,
            email="maya@lindqvist-consulting.example",
            smtp_host="127.0.0.1",
            smtp_port=2525,
            smtp_tls="none",
            imap_host=account.host,
            imap_port=account.port,
            imap_tls="none",
            imap_user=account.user,
            imap_password=key.seal(account.password),
            created_at=NOW - timedelta(days=1),
        )
        s.add(box)
        s.flush()
        access = mailbox_access(box, key)
    assert access is not None
    return access


def deliver(account: ImapAccount, raw: bytes, when: datetime = NOW) -> None:
    """APPEND a message to the INBOX, unread, as if it had arrived at `when`."""
    imap = account.connect()
    try:
        status, data = imap.append("INBOX", "", imaplib.Time2Internaldate(when), raw)
        assert status == "OK", data
    finally:
        imap.logout()


def read(world: World, mailbox: MailboxAccess, now: datetime = NOW, **kw: Any) -> int:
    return read_mailbox(
        lambda: write(world.engine), mailbox, lambda: now, playbook=world.playbook, **kw
    )


def cursor(world: World) -> m.ImapCursor:
    with write(world.engine) as s:
        return s.scalars(select(m.ImapCursor)).one()


# -- end to end -------------------------------------------------------------------------


def test_a_reply_read_from_the_mailbox_cancels_every_pending_step_and_tops_today(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    world.send_first_step()
    world.plan()
    pending = world.open_steps()
    assert pending, "the next step is planned"
    deliver(account, message("Thanks Maya - can we talk Thursday at 2pm?", in_reply_to=SENT_ID))

    assert read(world, mailbox) == 1

    [reply] = world.replies()
    assert (reply.deal_id, reply.intent, reply.handled_at) == (world.deal_id, "meeting", None)
    assert world.open_steps() == []
    assert {world.step(s.id).status for s in pending} == {"cancelled"}
    items = world.today()["items"]
    assert items[0]["kind"] == "reply" and items[0]["deal"] == "acme"
    assert items[0]["new_text"] == "Thanks Maya - can we talk Thursday at 2pm?"


def test_an_out_of_office_pauses_the_deal_until_the_day_after_the_date_it_names(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(account, GERMAN_OUT_OF_OFFICE)

    assert read(world, mailbox) == 1

    deal = world.deal()
    assert deal.paused_until is not None
    assert deal.paused_until.astimezone(NEW_YORK) == datetime(2026, 12, 4, 9, tzinfo=NEW_YORK)
    assert deal.state == "paused" and world.open_steps() == []
    [reply] = world.replies()
    assert (reply.auto_reply, reply.return_date, reply.intent) == (
        "out_of_office",
        date(2026, 12, 3),
        None,
    )
    assert not world.contact().do_not_contact
    assert [t.outcome for t in world.touches_in()] == ["auto_reply"]
    assert world.today()["items"] == []


def test_a_hard_bounce_marks_the_address_bad_and_the_next_plan_leaves_email(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    [step] = world.open_steps()
    assert step.channel == "email"
    deliver(account, hard_bounce_for(GEORGE))

    assert read(world, mailbox) == 1

    assert world.contact().email_bad
    assert world.step(step.id).status == "cancelled"
    nexts = [p.plan.next for p in world.plan(NOW + timedelta(days=3))]
    assert all(n is None or n.channel != "email" for n in nexts)
    assert any(n is not None and n.channel in ("call", "voicemail", "linkedin") for n in nexts)


def test_the_worker_sends_a_step_reads_the_reply_and_cancels_every_pending_step(
    sqlite_url: str, tmp_path: Path, smtp: SmtpServer, account: ImapAccount
) -> None:
    setup = make_setup(sqlite_url, tmp_path / "home", small_workspace())
    try:
        connect_mailbox(setup, smtp, account)
        assert worker.run(setup.settings, once=True, now_fn=lambda: NOW, engine=setup.engine) == 1
        [arrival] = smtp.sink.arrivals
        assert arrival.rcpt_tos == [GEORGE]
        later = NOW + timedelta(days=3)
        with write(setup.engine) as s:
            owners = list(s.scalars(select(m.User.id)))
            [acme] = planning.plan(s, owners, later, playbook=planning.default_playbook())
            assert acme.plan.next is not None, "the next step is planned"
        deliver(
            account,
            message("Sorry for the silence - yes, let's talk.", in_reply_to=arrival.message_id),
            later,
        )

        assert worker.run(setup.settings, once=True, now_fn=lambda: later, engine=setup.engine) == 0

        assert smtp.sink.count() == 1
        with write(setup.engine) as s:
            [reply] = s.scalars(select(m.Reply)).all()
            assert reply.deal_id == acme.deal_id and reply.intent is not None
            statuses = s.scalars(select(m.Step.status).where(m.Step.deal_id == acme.deal_id))
            assert set(statuses) == {"sent", "cancelled"}
            today = agenda.today(s, owners, later, playbook=planning.default_playbook())
        assert today["items"][0]["kind"] == "reply"
    finally:
        setup.engine.dispose()


# -- reading once, and only once ------------------------------------------------------


def test_reading_twice_ingests_nothing_new(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(account, message("Sounds good."))

    assert read(world, mailbox) == 1
    assert read(world, mailbox) == 0
    assert len(world.replies()) == 1 and len(world.touches_in()) == 1


def test_a_new_connection_reads_only_the_mail_that_arrived_since(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(account, message("First.", message_id="<one@acme.example>"))
    assert read(world, mailbox) == 1
    first_uid = cursor(world).last_uid
    deliver(account, message("Second.", message_id="<two@acme.example>"))
    deliver(account, message("Third.", message_id="<three@acme.example>"))

    assert read(world, mailbox, NOW + timedelta(minutes=5)) == 2

    assert [r.new_text for r in world.replies()] == ["First.", "Second.", "Third."]
    assert cursor(world).last_uid == first_uid + 2


def test_messages_read_stay_unread_for_the_human(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(account, message("Sounds good."))

    read(world, mailbox)

    imap = account.connect()
    try:
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "UNSEEN")
        assert data[0].split() == [b"1"]
    finally:
        imap.logout()


def test_a_new_uidvalidity_reads_the_folder_again_without_ingesting_twice(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(account, message("Sounds good."))
    read(world, mailbox)
    real = cursor(world).uidvalidity
    with write(world.engine) as s:  # as if the server had rebuilt the folder
        s.execute(update(m.ImapCursor).values(uidvalidity=real + 1, last_uid=99))
    deliver(account, message("One more thing.", message_id="<more@acme.example>"))

    assert read(world, mailbox) == 1

    assert [r.new_text for r in world.replies()] == ["Sounds good.", "One more thing."]
    assert (cursor(world).uidvalidity, cursor(world).last_uid) == (real, 2)


def test_the_first_read_skips_mail_older_than_the_lookback(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    deliver(
        account, message("Old news.", message_id="<old@acme.example>"), NOW - timedelta(days=40)
    )
    deliver(account, message("Fresh.", message_id="<new@acme.example>"))

    assert read(world, mailbox) == 1
    assert [r.new_text for r in world.replies()] == ["Fresh."]


def test_a_message_that_keeps_failing_is_kept_without_a_deal_after_three_tries(
    world: World, mailbox: MailboxAccess, account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(account, message("Poison.", message_id="<bad@acme.example>"))
    deliver(account, message("Fine.", message_id="<fine@acme.example>"))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug in the reaction")

    monkeypatch.setattr(inbox, "ingest", broken)
    for _ in range(inbox.MAX_TRIES - 1):
        with pytest.raises(inbox._Stop):
            read(world, mailbox)
        assert world.replies() == []
    with pytest.raises(inbox._Stop, match="message 2 failed"):  # the next one fails in turn
        read(world, mailbox)
    [kept] = world.replies()
    assert kept.deal_id is None and "ValueError: a bug in the reaction" in (kept.reaction or "")
    monkeypatch.undo()

    read(world, mailbox)

    assert [r.new_text for r in world.replies()] == ["Poison.", "Fine."]
    assert world.replies()[1].deal_id == world.deal_id


# -- waiting for mail -------------------------------------------------------------------


def test_idle_returns_as_soon_as_mail_arrives_and_ends_when_told(account: ImapAccount) -> None:
    server = Server(account.host, account.port, "none", account.user, account.password, 10)
    with InboxReader(server) as reader:
        assert reader.can_idle
        later = threading.Timer(0.3, deliver, (account, message("Hi.")))
        later.start()
        started = time.monotonic()
        assert reader.idle(20) is True
        assert time.monotonic() - started < 10
        later.join()
        assert reader.uids_after(0) == [1]

        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert reader.idle(20, stop) is False
        assert time.monotonic() - started < 3
        assert reader.uids_after(1) == [], "the connection is usable after IDLE"


def test_the_watcher_ingests_a_reply_while_idling_and_stops_cleanly(
    world: World, mailbox: MailboxAccess, account: ImapAccount
) -> None:
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_mailbox,
        args=(lambda: write(world.engine), mailbox, lambda: NOW, stop),
        kwargs={"playbook": world.playbook, "poll_seconds": 0.2},
    )
    watcher.start()
    try:
        time.sleep(0.5)  # the watcher is in IDLE by now
        deliver(account, message("Let's talk tomorrow at 10."))
        deadline = time.monotonic() + 15
        while not world.replies() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [r.new_text for r in world.replies()] == ["Let's talk tomorrow at 10."]
        assert world.open_steps() == []
    finally:
        stop.set()
        watcher.join(5)
    assert not watcher.is_alive()


def test_the_worker_pass_reads_each_mailbox_at_most_once_a_poll_interval(
    world: World, mailbox: MailboxAccess, account: ImapAccount, key: SecretKey
) -> None:
    def worker_pass(now: datetime) -> int:
        return inbox.read_mailboxes(world.engine, key, lambda: now, playbook=world.playbook)

    deliver(account, message("First.", message_id="<one@acme.example>"))
    assert worker_pass(NOW) == 1
    deliver(account, message("Second.", message_id="<two@acme.example>"))

    assert worker_pass(NOW + timedelta(seconds=10)) == 0
    assert worker_pass(NOW + timedelta(seconds=61)) == 1
    assert [r.new_text for r in world.replies()] == ["First.", "Second."]


def test_a_mailbox_that_cannot_be_reached_is_skipped_by_the_worker_pass(
    world: World, key: SecretKey
) -> None:
    with write(world.engine) as s:
        s.add(
            m.Mailbox(
                owner_id=world.owner_id,
                email="maya@lindqvist-consulting.example",
                smtp_host="127.0.0.1",
                smtp_port=2525,
                smtp_tls="none",
                imap_host="127.0.0.1",
                imap_port=free_port(),  # nobody listens there
                imap_tls="none",
                imap_user="maya",
                imap_password=key.seal("secret"),
                created_at=NOW,
            )
        )

    assert inbox.read_mailboxes(world.engine, key, lambda: NOW, playbook=world.playbook) == 0
