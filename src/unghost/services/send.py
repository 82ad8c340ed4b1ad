"""Sending email steps exactly once (PRODUCT §6): the outbox's claim, checks and delivery.

The database is the queue. A due email step gets one `outbox` row, its Message-ID fixed
at once (services/outbox.py queues them). Sending one row takes two transactions:

1. **claim** — the row is taken (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN
   IMMEDIATE` on SQLite), the mailbox's pause and pacing are checked, and the row is
   committed as `sending`, marked with this worker's id (store/liveness.py).
2. **deliver** — with the deal locked (and on SQLite the database), the deal is
   replanned and the step re-checked: still the deal's open step, no contact from the
   prospect, no unsubscribe or bad address, no pause. Only then is the message handed
   to the server, and its fate (`sent` with the touch recorded and the step `sent`;
   retried later; the mailbox paused; `failed`) is committed in the same transaction.
   A reply recorded by anyone else waits for that commit, so none is recorded while a
   message to its deal is on the wire, and none is missed by the check.

A worker that dies between the two leaves the row `sending`; it becomes `unknown`, and
is settled by looking for its Message-ID in the Sent folder (services/outbox.py), never
by sending again blindly.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from unghost.channels import eml, smtp
from unghost.domain.playbook import Playbook
from unghost.services import mailboxes
from unghost.services import plan as planning
from unghost.services.agenda import record_step_touches
from unghost.services.mailmessage import Letter, Person, build
from unghost.services.secretkey import SecretKey
from unghost.services.unsubscribe import unsubscribe_url
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import transaction
from unghost.store.liveness import WorkerLock

log = logging.getLogger("unghost.send")

OB = m.OutboxMessage
ACTIVE = ("queued", "sending", "unknown")
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
SIBLING_WAIT = timedelta(minutes=1)
SMTP_TIMEOUT = 20.0  # per command; SQLite's other writers wait up to 30 s for the lock


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4 … minutes, at most an hour."""
    factor: int = 2 ** min(max(attempts - 1, 0), 20)
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


def write(engine: Engine) -> AbstractContextManager[Session]:
    """A write transaction that takes SQLite's write lock up front (no upgrade deadlocks)."""
    return transaction(engine)


def lock_deal(session: Session, deal_id: int) -> None:
    """Serialise with sends to this deal: a reply or unsubscribe recorded for it should
    call this first (on SQLite the write transaction itself does it)."""
    session.execute(select(m.Deal.id).where(m.Deal.id == deal_id).with_for_update())


@dataclass(frozen=True)
class Ready:
    """A row that passed the checks: what to send and to whom."""

    step: m.Step
    deal: m.Deal
    owner: m.User
    to: list[m.Contact]
    cc: list[m.Contact]


@dataclass(frozen=True)
class Skip:
    """A row that must not go now: cancelled for a reason, or back in the queue until `later`."""

    reason: str
    later: datetime | None = None


class Sender:
    """Claims and delivers outbox rows, one at a time, for one worker."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        lock: WorkerLock,
        key: SecretKey,
        playbook: Playbook,
        *,
        smtp_timeout: float = SMTP_TIMEOUT,
        local_hostname: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.lock = lock
        self.key = key
        self.playbook = playbook
        self.smtp_timeout = smtp_timeout
        self.local_hostname = local_hostname
        self.sent = 0  # messages this sender handed over for good

    # -- one unit of work -------------------------------------------------------------

    def send_one(self, now: datetime) -> bool:
        """Claim one due row and deliver it; False when nothing can go now."""
        row_id = self.claim(now)
        if row_id is None:
            return False
        self.deliver(row_id, now)
        return True

    def claim(self, now: datetime) -> int | None:
        """Take one queued, due row whose mailbox may send, and commit it as `sending`."""
        full: set[int] = set()
        while True:
            with write(self.engine) as s:
                full |= blocked_mailboxes(s, now)
                q = (
                    select(OB)
                    .where(OB.state == "queued")
                    .where(or_(OB.next_attempt_at.is_(None), OB.next_attempt_at <= now))
                    .order_by(func.coalesce(OB.next_attempt_at, OB.created_at), OB.id)
                    .limit(1)
                    .with_for_update(skip_locked=True, of=OB)
                )
                if full:
                    q = q.where(or_(OB.mailbox_id.is_(None), OB.mailbox_id.not_in(full)))
                row = s.scalar(q)
                if row is None:
                    return None
                if row.mailbox_id is not None:
                    # Serialise claims per mailbox so that pacing counts stay true.
                    s.execute(
                        select(m.Mailbox.id).where(m.Mailbox.id == row.mailbox_id).with_for_update()
                    )
                    if row.mailbox_id in blocked_mailboxes(s, now, only=row.mailbox_id):
                        full.add(row.mailbox_id)
                        continue
                row.state = "sending"
                row.claimed_by = self.lock.id
                row.attempts += 1
                row.last_attempt_at = now
                row.next_attempt_at = None
                return row.id

    def deliver(self, row_id: int, now: datetime) -> None:
        """Check the claimed row under the deal's lock, send it, and record what happened."""
        started = False
        sent = False
        try:
            with write(self.engine) as s:
                deal_id = s.scalar(select(OB.deal_id).where(OB.id == row_id))
                assert deal_id is not None
                lock_deal(s, deal_id)
                row = s.scalars(
                    select(OB)
                    .where(OB.id == row_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                ).one()
                if row.state != "sending" or row.claimed_by != self.lock.id:
                    log.warning("%s was settled by another worker meanwhile", row.message_id)
                    return
                verdict = self.vet(s, row, now)
                if isinstance(verdict, Skip):
                    _skip(row, verdict)
                    log.info("not sending %s: %s", row.message_id, verdict.reason)
                    return
                box = s.get(m.Mailbox, row.mailbox_id) if row.mailbox_id else None
                self.prepare(s, row, verdict, box, now)
                started = True
                outcome = self.transport(row, box)
                sent = outcome.kind == "sent"
                self.apply(s, row, verdict, box, outcome, now)
            self.sent += sent
        except Exception:
            log.exception("sending outbox row %s failed inside unghost", row_id)
            self._after_error(row_id, started, now)
            return
        if sent and box is not None and box.copy_to_sent and box.imap_host:
            from unghost.services.outbox import copy_to_sent

            copy_to_sent(self.engine, self.key, row_id, now)

    # -- the checks ---------------------------------------------------------------------

    def vet(self, s: Session, row: m.OutboxMessage, now: datetime) -> Ready | Skip:
        """Replan the deal, then make sure the row's step may still go, to whom, and now."""
        for state, claimant in s.execute(
            select(OB.state, OB.claimed_by).where(
                OB.deal_id == row.deal_id, OB.id != row.id, OB.state.in_(("sending", "unknown"))
            )
        ):
            if state == "unknown" or not self.lock.alive(claimant):
                return Skip("an earlier message of this deal is unresolved", now + SIBLING_WAIT)
        deal = s.get_one(m.Deal, row.deal_id)
        planned = planning.plan(s, [deal.owner_id], now, playbook=self.playbook, deal_ids=[deal.id])
        s.expire_all()  # the planner updates steps in bulk
        step = s.get_one(m.Step, row.step_id)
        if step.status not in planning.OPEN:
            current = s.scalar(
                select(m.Step)
                .where(m.Step.deal_id == deal.id, m.Step.status.in_(planning.OPEN))
                .order_by(m.Step.id.desc())
                .limit(1)
            )
            taken = current is not None and s.scalar(
                select(exists().where(OB.step_id == current.id))
            )
            if current is None or not same_move(current, step) or taken:
                return Skip(_why_not(planned, step))
            # The replan only moved an overdue step's time: the same message, still due.
            row.step_id = current.id
            step = current
        if step.channel != "email":
            return Skip(f"the deal's next step is by {step.channel} now")
        owner = s.get_one(m.User, deal.owner_id)
        keys = [*step.to, *step.cc]
        people = {
            c.key: c
            for c in s.scalars(
                select(m.Contact)
                .where(m.Contact.owner_id == deal.owner_id, m.Contact.key.in_(keys))
                .with_for_update(read=True)
            )
        }
        to = [people[k] for k in step.to if k in people]
        if not to:
            return Skip("nobody to send it to")
        for c in to:
            if c.do_not_contact:
                return Skip(f"{c.name} is not to be contacted")
            if not c.email or c.email_bad:
                return Skip(f"{c.name} has no working email address")
        cc = [people[k] for k in step.cc if k in people]
        cc = [c for c in cc if c.email and not c.email_bad and not c.do_not_contact]
        since = min(row.created_at, step.planned_at)
        if s.scalar(
            select(
                exists().where(m.Touch.deal_id == deal.id, m.Touch.at >= since, _from_prospect())
            )
        ):
            return Skip("contact from the prospect since the step was planned")
        if deal.paused_until is not None and deal.paused_until > now:
            return Skip(f"the deal is paused until {deal.paused_until:%Y-%m-%d}")
        return Ready(step, deal, owner, to, cc)

    # -- the message --------------------------------------------------------------------

    def prepare(
        self, s: Session, row: m.OutboxMessage, ready: Ready, box: m.Mailbox | None, now: datetime
    ) -> None:
        """Build the message once; later attempts send the very same bytes."""
        if row.raw is not None:
            return
        owner, step = ready.owner, ready.step
        sender = box.email if box else owner.email
        first = ready.to[0]
        assert first.email is not None
        thread = [
            mid
            for mid, addresses in s.execute(
                select(OB.message_id, OB.to_addresses)
                .where(OB.deal_id == row.deal_id, OB.state == "sent", OB.id != row.id)
                .order_by(OB.sent_at, OB.id)
            )
            if addresses and str(addresses[0]).lower() == first.email.lower()
        ]
        url = None
        if self.settings.public_url:
            url = unsubscribe_url(self.settings.public_url, first.id, owner.id, self.key)
        letter = Letter(
            sender=Person((box.from_name if box else None) or owner.name, sender),
            to=[Person(c.name, c.email or "") for c in ready.to],
            cc=[Person(c.name, c.email or "") for c in ready.cc],
            subject=step.subject or "",
            body=step.body or "",
            message_id=row.message_id,
            date=now,
            thread=thread,
            unsubscribe_mailto=sender,
            unsubscribe_url=url,
            postal_address=owner.postal_address,
        )
        row.raw = build(letter)
        row.from_address = sender
        row.to_addresses = [c.email for c in (*ready.to, *ready.cc)]

    def transport(self, row: m.OutboxMessage, box: m.Mailbox | None) -> smtp.Outcome:
        """Hand the message over: to the SMTP server, or as a file without a mailbox."""
        assert row.raw is not None
        if box is None:
            folder = self.settings.outbox_dir
            if eml.exists(folder, row.message_id):
                return smtp.Outcome("sent", None, "already in the outbox folder", "file")
            try:
                path = eml.write(folder, row.message_id, row.raw)
            except OSError as exc:
                return smtp.Outcome("temporary", None, f"cannot write the file: {exc}", "file")
            return smtp.Outcome("sent", None, f"written to {path}", "file")
        server = mailboxes.smtp_server(box, self.key, timeout=self.smtp_timeout)
        return smtp.send(
            server,
            row.from_address or box.email,
            list(row.to_addresses),
            row.raw,
            local_hostname=self.local_hostname,
        )

    # -- what happened ------------------------------------------------------------------

    def apply(
        self,
        s: Session,
        row: m.OutboxMessage,
        ready: Ready,
        box: m.Mailbox | None,
        outcome: smtp.Outcome,
        now: datetime,
    ) -> None:
        """Record the attempt and move the row, the step and perhaps the mailbox on."""
        s.add(
            m.SendAttempt(
                outbox_id=row.id,
                mailbox_id=row.mailbox_id,
                at=now,
                outcome=outcome.kind,
                code=outcome.code,
                reply=outcome.words[:2000] or None,
            )
        )
        to = ", ".join(row.to_addresses)
        kind = outcome.kind
        if kind == "sent":
            delivered(s, row, ready.step, now)
            log.info(
                "sent %s to %s (deal %s, %s)", row.message_id, to, ready.deal.key, ready.step.play
            )
        elif kind == "unknown":
            row.state = "unknown"
            row.next_attempt_at = now + self.settings.sent_settle
            row.last_error = outcome.words
            log.warning(
                "sent %s to %s, but no answer came: %s; will look in the Sent folder",
                row.message_id,
                to,
                outcome.words,
            )
        elif kind in ("quota", "mailbox") and box is not None:
            box.paused_until = now + outcome.pause
            box.pause_reason = outcome.words
            row.state = "queued"
            row.next_attempt_at = box.paused_until
            row.last_error = outcome.words
            log.warning(
                "mailbox %s paused until %s: %s",
                box.email,
                box.paused_until.isoformat(timespec="minutes"),
                outcome.words,
            )
        elif kind in ("temporary", "quota", "mailbox"):
            wait = backoff(row.attempts)
            if now + wait > row.created_at + self.settings.retry_budget:
                failed(
                    s, row, ready.step, f"gave up after {row.attempts} tries: {outcome.words}", now
                )
                log.warning("failed %s to %s: %s", row.message_id, to, row.last_error)
            else:
                row.state = "queued"
                row.next_attempt_at = now + wait
                row.last_error = outcome.words
                log.info(
                    "will retry %s to %s at %s: %s",
                    row.message_id,
                    to,
                    row.next_attempt_at.isoformat(timespec="seconds"),
                    outcome.words,
                )
        else:
            failed(s, row, ready.step, outcome.words, now)
            log.warning("failed %s to %s: %s", row.message_id, to, outcome.words)
            if outcome.hard_bounce and outcome.recipient:
                for c in (*ready.to, *ready.cc):
                    if c.email and c.email.lower() == outcome.recipient.lower():
                        c.email_bad = True
                s.flush()
                planning.plan(
                    s, [ready.deal.owner_id], now, playbook=self.playbook, deal_ids=[ready.deal.id]
                )

    def _after_error(self, row_id: int, started: bool, now: datetime) -> None:
        """A bug or a database error mid-send: never leave the row `sending` for ever."""
        with write(self.engine) as s:
            row = s.get(OB, row_id)
            if row is None or row.state != "sending" or row.claimed_by != self.lock.id:
                return
            if started:  # the server may have it: settle it by looking, not by resending
                row.state = "unknown"
                row.next_attempt_at = now + self.settings.sent_settle
            else:
                row.state = "queued"
                row.next_attempt_at = now + backoff(row.attempts)
            row.last_error = "an error inside unghost (see the worker's log)"


# -- shared with services/outbox.py -------------------------------------------------------


def delivered(s: Session, row: m.OutboxMessage, step: m.Step, at: datetime) -> None:
    """The message went at `at`: the row and the step `sent`, its touches recorded.

    The deal's next step is planned by the next replan (the worker's pass, or anyone's
    `plan`); a follow-up is never due the same day, and every send replans first anyway.
    """
    deal = s.get_one(m.Deal, row.deal_id)
    row.state = "sent"
    row.sent_at = at
    row.last_error = None
    row.next_attempt_at = None
    step.status = "sent"
    step.done_at = at
    step.touch_id = record_step_touches(s, deal, step, at)


def failed(s: Session, row: m.OutboxMessage, step: m.Step, reason: str, now: datetime) -> None:
    """The message will not go: the row and the step `failed`, with the server's words."""
    row.state = "failed"
    row.last_error = reason
    row.next_attempt_at = None
    if step.status in planning.OPEN:
        step.status = "failed"
        step.done_at = now


def blocked_mailboxes(s: Session, now: datetime, *, only: int | None = None) -> set[int]:
    """Mailboxes that may not send now: paused, or at their daily or per-minute limit."""
    day, minute = now - timedelta(hours=24), now - timedelta(minutes=1)
    boxes = select(m.Mailbox.id, m.Mailbox.per_day, m.Mailbox.per_minute, m.Mailbox.paused_until)
    if only is not None:
        boxes = boxes.where(m.Mailbox.id == only)
    limits = {r.id: r for r in s.execute(boxes)}
    out = {i for i, r in limits.items() if r.paused_until is not None and r.paused_until > now}
    A = m.SendAttempt
    used = select(A.mailbox_id, func.count(), func.sum(case((A.at > minute, 1), else_=0))).where(
        A.at > day, A.mailbox_id.is_not(None)
    )
    flying = select(OB.mailbox_id, func.count()).where(
        OB.state == "sending", OB.mailbox_id.is_not(None)
    )
    if only is not None:
        used, flying = used.where(A.mailbox_id == only), flying.where(OB.mailbox_id == only)
    in_flight = {r[0]: int(r[1]) for r in s.execute(flying.group_by(OB.mailbox_id))}
    counts = {r[0]: (int(r[1]), int(r[2] or 0)) for r in s.execute(used.group_by(A.mailbox_id))}
    for box_id, r in limits.items():
        per_day, per_minute = counts.get(box_id, (0, 0))
        # The row being claimed is not `sending` yet, so `>=` leaves room for exactly it.
        extra = in_flight.get(box_id, 0)
        if per_day + extra >= r.per_day or per_minute + extra >= r.per_minute:
            out.add(box_id)
    return out


def same_move(a: m.Step, b: m.Step) -> bool:
    """Two steps that would send the same message: same play, variant, channel and people."""
    return (
        a.play == b.play
        and a.variant == b.variant
        and a.channel == b.channel
        and list(a.to) == list(b.to)
        and list(a.cc) == list(b.cc)
    )


def _skip(row: m.OutboxMessage, verdict: Skip) -> None:
    row.attempts -= 1  # never tried
    row.last_error = verdict.reason
    if verdict.later is not None:
        row.state = "queued"
        row.next_attempt_at = verdict.later
    else:
        row.state = "cancelled"
        row.next_attempt_at = None


def _why_not(planned: list[planning.Planned], step: m.Step) -> str:
    if not planned:
        return "the deal is gone"
    p = planned[0].plan
    if step.status != "cancelled":
        return f"the step is already {step.status}"
    state = p.assessment.state
    if p.next is None:
        return f"no longer planned: the deal is {state.replace('_', ' ')}"
    return f"no longer planned: the deal is {state}, and its next step is {p.next.play}"


def _from_prospect() -> ColumnElement[bool]:
    """CONTRACT's "contact from the prospect" as SQL (see domain.model.Touch.from_prospect)."""
    T = m.Touch
    return or_(
        T.outcome.in_(("connected", "held")),
        and_(
            T.direction == "in",
            or_(T.outcome.is_(None), T.outcome.not_in(("bounced", "auto_reply"))),
        ),
    )
