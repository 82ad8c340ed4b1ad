"""Sending email steps through real servers on loopback: aiosmtpd for SMTP, Dovecot for IMAP.

The worker runs in-process with a pinned clock; counts are taken on the server's side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers import small_workspace
from mailservers import ImapAccount, SmtpServer
from outbox_helpers import (
    AS_OF,
    OWNER,
    Setup,
    connect_mailbox,
    make_setup,
    silent_workspace,
)
from unghost import worker
from unghost.channels import eml
from unghost.services.outbox import list_outbox
from unghost.services.secretkey import load_key
from unghost.services.send import write
from unghost.services.unsubscribe import read_token
from unghost.store import models as m


def run_worker(setup: Setup, now: datetime) -> int:
    """One pass of the worker at a pinned time; returns how many it sent."""
    return worker.run(setup.settings, once=True, now_fn=lambda: now, engine=setup.engine)


def outbox_rows(setup: Setup) -> list[m.OutboxMessage]:
    with write(setup.engine) as s:
        return list(s.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


def steps_of(setup: Setup, deal: str) -> list[m.Step]:
    with write(setup.engine) as s:
        return list(
            s.scalars(select(m.Step).join(m.Deal).where(m.Deal.key == deal).order_by(m.Step.id))
        )


@pytest.fixture
def setup_factory(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Setup] = []

    def make(doc: dict[str, object] | None = None, **settings: object) -> Setup:
        setup = make_setup(db_url, tmp_path / "home", doc, **settings)
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.engine.dispose()


# --- the end-to-end path -------------------------------------------------------------------------


def test_a_due_step_goes_out_once_with_its_headers_and_a_copy_in_sent(
    setup_factory, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    setup = setup_factory(small_workspace(), public_url="https://unghost.example.com")
    connect_mailbox(
        setup,
        smtp,
        imap_account,
        from_name="Maya Lindqvist",
        postal_address="12 Harbor Street\nBoston, MA 02110",
    )

    assert run_worker(setup, AS_OF) == 1

    assert smtp.sink.count() == 1
    arrival = smtp.sink.arrivals[0]
    msg = arrival.message
    [row] = outbox_rows(setup)
    assert row.state == "sent" and arrival.message_id == row.message_id
    assert row.message_id.endswith("@lindqvist-consulting.example>")
    assert msg["From"].addresses[0].display_name == "Maya Lindqvist"
    assert msg["From"].addresses[0].addr_spec == OWNER
    to = msg["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("George Abara", "george@acme.example")
    assert arrival.rcpt_tos == ["george@acme.example"]
    assert msg["In-Reply-To"] is None, "a first message starts a thread"
    mailto, https = [part.strip(" <>") for part in str(msg["List-Unsubscribe"]).split(",")]
    assert mailto == f"mailto:{OWNER}?subject=unsubscribe"
    assert https.startswith("https://unghost.example.com/u/")
    with write(setup.engine) as s:
        george = s.scalar(select(m.Contact).where(m.Contact.key == "george"))
        assert george is not None
        owner_id = george.owner_id
        contact_id = george.id
    key = load_key(setup.settings)
    assert read_token(https.rsplit("/", 1)[1], key) == (contact_id, owner_id)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = msg.get_content().replace("\r\n", "\n")
    assert body.rstrip().endswith("12 Harbor Street\nBoston, MA 02110")

    assert imap_account.message_ids("Sent") == [row.message_id]
    [step] = [s for s in steps_of(setup, "acme") if s.id == row.step_id]
    assert step.status == "sent" and step.touch_id is not None
    with write(setup.engine) as s:
        touch = s.get_one(m.Touch, step.touch_id)
        assert (touch.direction, touch.outcome, touch.play) == ("out", "sent", step.play)
        assert touch.contact_id == contact_id
        assert s.get_one(m.OutboxMessage, row.id).copied_at is not None

    assert run_worker(setup, AS_OF + timedelta(minutes=5)) == 0
    assert smtp.sink.count() == 1
    assert len(outbox_rows(setup)) == 1
    assert imap_account.message_ids("Sent") == [row.message_id]


def test_a_follow_up_to_the_same_person_threads_under_the_last_message(
    setup_factory, smtp: SmtpServer
) -> None:
    setup = setup_factory(silent_workspace(1))
    connect_mailbox(setup, smtp)
    assert run_worker(setup, AS_OF) == 1
    first = smtp.sink.arrivals[0].message
    assert first["In-Reply-To"] is None

    assert run_worker(setup, AS_OF + timedelta(days=8)) == 1

    second = smtp.sink.arrivals[1].message
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert second["Message-ID"] != first["Message-ID"]


def test_without_a_mailbox_messages_are_written_as_eml_files_once(setup_factory) -> None:
    setup = setup_factory(silent_workspace(3))

    assert run_worker(setup, AS_OF) == 3
    assert run_worker(setup, AS_OF + timedelta(minutes=1)) == 0

    files = sorted(setup.settings.outbox_dir.glob("*.eml"))
    rows = outbox_rows(setup)
    assert len(files) == 3 and all(r.state == "sent" for r in rows)
    assert {f.name for f in files} == {eml.file_name(r.message_id) for r in rows}
    assert not list(setup.settings.outbox_dir.glob(".*"))
    text = files[0].read_bytes()
    assert b"\r\nFrom: Maya Lindqvist <maya@lindqvist-consulting.example>\r\n" in b"\r\n" + text


# --- errors the server gives ---------------------------------------------------------------------


def test_a_4xx_is_retried_later_with_backoff_not_at_once(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(1))
    connect_mailbox(setup, smtp)
    smtp.sink.refuse["p000@prospects.example"] = ("data", "451 4.3.0 Mail server busy")

    assert run_worker(setup, AS_OF) == 0
    [row] = outbox_rows(setup)
    assert row.state == "queued" and row.attempts == 1
    assert row.last_error == "451 4.3.0 Mail server busy"
    assert row.next_attempt_at == AS_OF + timedelta(minutes=1)

    run_worker(setup, AS_OF + timedelta(seconds=30))
    assert len(smtp.sink.refused) == 1, "not retried before its time"

    run_worker(setup, AS_OF + timedelta(minutes=1))
    [row] = outbox_rows(setup)
    assert len(smtp.sink.refused) == 2
    assert row.next_attempt_at == AS_OF + timedelta(minutes=1) + timedelta(minutes=2)

    del smtp.sink.refuse["p000@prospects.example"]
    run_worker(setup, AS_OF + timedelta(minutes=3))
    [row] = outbox_rows(setup)
    assert row.state == "sent" and smtp.sink.count() == 1
    with write(setup.engine) as s:
        replies = [a.reply for a in s.scalars(select(m.SendAttempt).order_by(m.SendAttempt.id))]
    assert replies == [
        "451 4.3.0 Mail server busy",
        "451 4.3.0 Mail server busy",
        "250 2.0.0 OK: queued",
    ]


def test_temporary_failures_give_up_after_the_retry_budget(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(1), retry_budget=timedelta(minutes=10))
    connect_mailbox(setup, smtp)
    smtp.sink.refuse["p000@prospects.example"] = ("rcpt", "450 4.2.0 Greylisted, come back")
    for minute in range(15):  # tries at 0, 1, 3 and 7 minutes; the next would pass 10
        run_worker(setup, AS_OF + timedelta(minutes=minute))
    [row] = outbox_rows(setup)
    assert row.state == "failed"
    assert row.last_error == "gave up after 4 tries: 450 4.2.0 Greylisted, come back"
    [step] = [s for s in steps_of(setup, "deal-p000") if s.id == row.step_id]
    assert step.status == "failed"
    assert len(smtp.sink.refused) == 4


def test_a_provider_quota_error_pauses_the_mailbox_not_the_prospect(
    setup_factory, smtp: SmtpServer
) -> None:
    setup = setup_factory(silent_workspace(3))
    connect_mailbox(setup, smtp)
    quota = "550 5.4.5 Daily user sending quota exceeded."
    smtp.sink.refuse["p000@prospects.example"] = ("data", quota)

    run_worker(setup, AS_OF)

    assert smtp.sink.count() == 0 and len(smtp.sink.refused) == 1, "nothing after the pause"
    with write(setup.engine) as s:
        box = s.scalar(select(m.Mailbox))
        assert box is not None
        assert box.paused_until == AS_OF + timedelta(hours=24)
        assert box.pause_reason == quota
        pat = s.scalar(select(m.Contact).where(m.Contact.key == "p000"))
        assert pat is not None and not pat.do_not_contact and not pat.email_bad
        deal = s.scalar(select(m.Deal).where(m.Deal.key == "deal-p000"))
        assert deal is not None and deal.state == "silent" and deal.paused_until is None
    rows = outbox_rows(setup)
    assert [r.state for r in rows] == ["queued"] * 3
    assert [s.status for s in steps_of(setup, "deal-p000")] == ["planned"]

    del smtp.sink.refuse["p000@prospects.example"]
    run_worker(setup, AS_OF + timedelta(hours=1))
    assert smtp.sink.count() == 0, "the mailbox stays paused"
    run_worker(setup, AS_OF + timedelta(hours=24, minutes=1))
    assert smtp.sink.count() == 3


def test_a_5xx_fails_the_message_with_the_servers_words(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(2))
    connect_mailbox(setup, smtp)
    words = "554 5.7.1 Message rejected: content looks like spam"
    smtp.sink.refuse["p000@prospects.example"] = ("data", words)

    assert run_worker(setup, AS_OF) == 1

    rows = {r.to_addresses[0]: r for r in outbox_rows(setup)}
    assert rows["p000@prospects.example"].state == "failed"
    assert rows["p000@prospects.example"].last_error == words
    assert rows["p001@prospects.example"].state == "sent"
    [step] = steps_of(setup, "deal-p000")
    assert step.status == "failed"
    # The same play is not queued again on the next pass: it is the seller's to handle now.
    run_worker(setup, AS_OF + timedelta(hours=2))
    assert len(smtp.sink.refused) == 1 and len(outbox_rows(setup)) == 2

    with write(setup.engine) as s:
        owners = list(s.scalars(select(m.User.id)))
        [shown] = list_outbox(s, owners, ["failed"])
    assert (shown["deal"], shown["state"], shown["note"]) == ("deal-p000", "failed", words)


def test_a_refused_unknown_recipient_marks_the_address_bad(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(1))
    connect_mailbox(setup, smtp)
    smtp.sink.refuse["p000@prospects.example"] = ("rcpt", "550 5.1.1 No such user here")

    run_worker(setup, AS_OF)

    with write(setup.engine) as s:
        pat = s.scalar(select(m.Contact).where(m.Contact.key == "p000"))
        assert pat is not None and pat.email_bad and not pat.do_not_contact
    [row] = outbox_rows(setup)
    assert row.state == "failed" and row.last_error == "550 5.1.1 No such user here"


def test_pacing_caps_sends_per_minute(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(5))
    connect_mailbox(setup, smtp, per_minute=2)

    assert run_worker(setup, AS_OF) == 2
    assert run_worker(setup, AS_OF + timedelta(seconds=59)) == 0
    assert run_worker(setup, AS_OF + timedelta(seconds=61)) == 2
    assert run_worker(setup, AS_OF + timedelta(seconds=122)) == 1
    assert smtp.sink.count() == 5
    times = sorted(r.sent_at for r in outbox_rows(setup) if r.sent_at)
    for i in range(len(times) - 2):
        assert times[i + 2] - times[i] >= timedelta(minutes=1), "never 3 within a minute"


def test_pacing_caps_sends_per_day(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(3))
    connect_mailbox(setup, smtp, per_day=2)

    assert run_worker(setup, AS_OF) == 2
    assert run_worker(setup, AS_OF + timedelta(hours=23)) == 0
    assert run_worker(setup, AS_OF + timedelta(hours=24, seconds=1)) == 1


def test_a_wrong_password_pauses_the_mailbox_and_says_so(setup_factory, smtp: SmtpServer) -> None:
    setup = setup_factory(silent_workspace(1))
    connect_mailbox(setup, smtp)
    smtp.sink.users.clear()

    run_worker(setup, AS_OF)

    with write(setup.engine) as s:
        box = s.scalar(select(m.Mailbox))
        assert box is not None and box.paused_until == AS_OF + timedelta(hours=1)
        assert box.pause_reason is not None and box.pause_reason.startswith("535")
        assert s.scalar(select(func.count()).select_from(m.SendAttempt)) == 1
    [row] = outbox_rows(setup)
    assert row.state == "queued"
