"""The outbox around the sends: queueing due steps, settling interrupted sends, Sent copies.

- `queue_due`: each due email step gets one row (unique per step), its Message-ID fixed
  now, before any attempt; a deal has at most one message on its way at a time.
- `recover`: rows left `sending` by a worker that died become `unknown`.
- `resolve_one`: an `unknown` row is settled by looking: its Message-ID in the Sent
  folder (or its `.eml` file) means it went; absent, it goes back to the queue only
  when that absence is proof — when the provider files what it accepts (Gmail, Outlook)
  or the file system is the server. Otherwise a person decides: `unghost outbox resolve`.
- `copy_to_sent`: a copy in the Sent folder for servers that do not keep one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import Engine, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from unghost.channels import eml, imap
from unghost.domain.playbook import Playbook
from unghost.errors import Conflict, NotFound
from unghost.services import plan as planning
from unghost.services.mailboxes import imap_server
from unghost.services.secretkey import SecretKey
from unghost.services.send import ACTIVE, delivered, write
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.liveness import WorkerLock

log = logging.getLogger("unghost.send")

OB = m.OutboxMessage
STATES = ("queued", "sending", "sent", "failed", "unknown", "cancelled")
CHECK_LEASE = timedelta(minutes=5)
COPY_WINDOW = timedelta(days=7)
QUEUE_BATCH = 500
NEEDS_YOU = (
    "look for it in your Sent folder, then run `unghost outbox resolve {id} --sent` "
    "if it is there, or `--not-sent` to send it again"
)


def queue_due(engine: Engine, now: datetime, *, limit: int = QUEUE_BATCH) -> int:
    """Give each due email step an outbox row with its Message-ID; returns how many."""
    S = m.Step
    failed_before = aliased(m.Step)
    with write(engine) as s:
        rows = s.execute(
            select(S.id, S.deal_id, m.Deal.owner_id)
            .join(m.Deal, m.Deal.id == S.deal_id)
            .where(S.status.in_(planning.OPEN), S.channel == "email", S.due <= now)
            .where(~exists().where(OB.step_id == S.id))
            .where(~exists().where(OB.deal_id == S.deal_id, OB.state.in_(ACTIVE)))
            # A play the server refused for good is the seller's task now, not a loop.
            .where(
                ~exists()
                .where(OB.deal_id == S.deal_id, OB.state == "failed")
                .where(failed_before.id == OB.step_id, failed_before.play == S.play)
            )
            .order_by(S.due, S.id)
            .limit(limit)
        ).all()
        if not rows:
            return 0
        owners = {r.owner_id for r in rows}
        boxes = {
            b.owner_id: b
            for b in s.scalars(select(m.Mailbox).where(m.Mailbox.owner_id.in_(owners)))
        }
        emails = {
            r.id: r.email
            for r in s.execute(select(m.User.id, m.User.email).where(m.User.id.in_(owners)))
        }
        values: list[dict[str, Any]] = []
        seen: set[int] = set()
        for step_id, deal_id, owner_id in rows:
            if deal_id in seen:  # two open steps of one deal: the earlier goes first
                continue
            seen.add(deal_id)
            box = boxes.get(owner_id)
            sender = box.email if box else emails[owner_id]
            values.append(
                {
                    "step_id": step_id,
                    "deal_id": deal_id,
                    "mailbox_id": box.id if box else None,
                    "message_id": make_msgid(domain=sender.rpartition("@")[2] or None),
                    "state": "queued",
                    "attempts": 0,
                    "to_addresses": [],
                    "created_at": now,
                }
            )
        dialect = s.get_bind().dialect.name
        stmt = (postgresql.insert(OB) if dialect == "postgresql" else sqlite.insert(OB)).values(
            values
        )
        inserted = s.execute(
            stmt.on_conflict_do_nothing(index_elements=["step_id"]).returning(OB.id)
        )
        count = len(inserted.all())
    if count:
        log.info("queued %d message%s", count, "" if count == 1 else "s")
    return count


def recover(engine: Engine, lock: WorkerLock, settle: timedelta, now: datetime) -> int:
    """Rows another worker left `sending` when it died become `unknown`; returns how many."""
    with write(engine) as s:
        rows = s.execute(
            select(OB.id, OB.claimed_by, OB.message_id)
            .where(OB.state == "sending")
            .where(or_(OB.claimed_by.is_(None), OB.claimed_by != lock.id))
            .with_for_update(skip_locked=True)
        ).all()
        alive: dict[str | None, bool] = {}
        dead = []
        for row_id, claimant, message_id in rows:
            if claimant not in alive:
                alive[claimant] = lock.alive(claimant)
            if not alive[claimant]:
                dead.append(row_id)
                log.warning(
                    "%s was being sent when its worker stopped: checking whether it went",
                    message_id,
                )
        for row_id in dead:
            row = s.get_one(OB, row_id)
            row.state = "unknown"
            row.next_attempt_at = now + settle
            row.last_error = "interrupted while sending"
    return len(dead)


def resolve_one(engine: Engine, settings: Settings, key: SecretKey, now: datetime) -> bool:
    """Settle one `unknown` row that is due for a look; False when there is none."""
    with write(engine) as s:
        row = s.scalar(
            select(OB)
            .where(
                OB.state == "unknown", OB.next_attempt_at.is_not(None), OB.next_attempt_at <= now
            )
            .order_by(OB.next_attempt_at, OB.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=OB)
        )
        if row is None:
            return False
        if row.mailbox_id is None:
            found = eml.exists(settings.outbox_dir, row.message_id)
            _settle(s, row, found, proof=True, where="the outbox folder", now=now)
            return True
        box = s.get_one(m.Mailbox, row.mailbox_id)
        server = imap_server(box, key)
        if server is None:
            _needs_you(row, "no IMAP server is set for this mailbox to check its Sent folder")
            return True
        row.next_attempt_at = now + CHECK_LEASE  # others leave it alone while we look
        row_id, message_id, folder = row.id, row.message_id, box.sent_folder
        proof = not box.copy_to_sent
    try:
        found = imap.find(server, folder, message_id)
    except imap.ImapError as exc:
        log.warning("cannot look for %s in the Sent folder yet: %s", message_id, exc)
        return True
    with write(engine) as s:
        row = s.get_one(OB, row_id, with_for_update=True)
        if row.state == "unknown":
            _settle(
                s,
                row,
                found,
                proof=proof,
                where=f"the {folder!r} folder",
                now=now,
            )
    return True


def _settle(
    s: Session,
    row: m.OutboxMessage,
    found: bool,
    *,
    proof: bool,
    where: str,
    now: datetime,
) -> None:
    at = row.last_attempt_at or now
    if found:
        _went(s, row, at, f"found in {where} after an interruption")
        log.info("%s was sent before the interruption: found in %s", row.message_id, where)
    elif proof:
        _requeue(s, row, at, f"not in {where}: it never went",
                 f"interrupted, and not in {where}: sending it again")  # fmt: skip
        log.info("%s never went (not in %s): back in the queue", row.message_id, where)
    else:
        _needs_you(
            row,
            f"not in {where}, but unghost puts messages there itself after sending, "
            "so it may have gone",
        )


def _went(s: Session, row: m.OutboxMessage, at: datetime, reply: str) -> None:
    """An interrupted send turned out to have gone: record it as sent."""
    s.add(m.SendAttempt(outbox_id=row.id, mailbox_id=row.mailbox_id, at=at, outcome="sent",
                        reply=reply))  # fmt: skip
    delivered(s, row, s.get_one(m.Step, row.step_id), at)


def _requeue(s: Session, row: m.OutboxMessage, at: datetime, reply: str, error: str) -> None:
    """An interrupted send never went: back in the queue."""
    s.add(m.SendAttempt(outbox_id=row.id, mailbox_id=row.mailbox_id, at=at,
                        outcome="interrupted", reply=reply))  # fmt: skip
    row.state = "queued"
    row.next_attempt_at = None
    row.last_error = error


def _needs_you(row: m.OutboxMessage, why: str) -> None:
    row.next_attempt_at = None
    row.last_error = f"unknown whether it went ({why}): " + NEEDS_YOU.format(id=row.id)
    log.warning("%s to %s: %s", row.message_id, ", ".join(row.to_addresses), row.last_error)


def copy_to_sent(engine: Engine, key: SecretKey, row_id: int, now: datetime) -> bool:
    """Put a sent message in the mailbox's Sent folder, once; False if it is not for now."""
    with write(engine) as s:
        row = s.get_one(OB, row_id)
        box = s.get(m.Mailbox, row.mailbox_id) if row.mailbox_id else None
        if row.state != "sent" or row.copied_at is not None or row.raw is None or box is None:
            return False
        server = imap_server(box, key)
        if server is None or not box.copy_to_sent:
            return False
        row.next_attempt_at = now + CHECK_LEASE
        folder, message_id, raw, when = box.sent_folder, row.message_id, row.raw, row.sent_at
    try:
        if not imap.find(server, folder, message_id):
            imap.append(server, folder, raw, when or now)
    except imap.ImapError as exc:
        log.warning("could not put %s in the Sent folder (will try again): %s", message_id, exc)
        return True
    with write(engine) as s:
        row = s.get_one(OB, row_id)
        row.copied_at = now
        row.next_attempt_at = None
    return True


def copy_one(engine: Engine, key: SecretKey, now: datetime) -> bool:
    """Retry one Sent copy that did not happen at sending time."""
    with write(engine) as s:
        row_id = s.scalar(
            select(OB.id)
            .join(m.Mailbox, m.Mailbox.id == OB.mailbox_id)
            .where(OB.state == "sent", OB.copied_at.is_(None), OB.sent_at > now - COPY_WINDOW)
            .where(m.Mailbox.copy_to_sent.is_(True), m.Mailbox.imap_host.is_not(None))
            .where(or_(OB.next_attempt_at.is_(None), OB.next_attempt_at <= now))
            .order_by(OB.id)
            .limit(1)
        )
    return row_id is not None and copy_to_sent(engine, key, row_id, now)


# -- what people see and decide ---------------------------------------------------------


def list_outbox(
    session: Session, owners: list[int], states: list[str] | None = None
) -> list[dict[str, Any]]:
    """The outbox rows of these owners, newest first."""
    q = (
        select(OB, m.Deal.key, m.Step.play, m.Step.subject)
        .join(m.Deal, m.Deal.id == OB.deal_id)
        .join(m.Step, m.Step.id == OB.step_id)
        .where(m.Deal.owner_id.in_(owners))
        .order_by(OB.created_at.desc(), OB.id.desc())
    )
    if states:
        q = q.where(OB.state.in_(states))
    return [
        {
            "id": row.id,
            "state": row.state,
            "deal": deal,
            "play": play,
            "subject": subject,
            "to": list(row.to_addresses),
            "message_id": row.message_id,
            "attempts": row.attempts,
            "created_at": row.created_at.isoformat(),
            "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
            "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "note": row.last_error,
        }
        for row, deal, play, subject in session.execute(q)
    ]


def resolve_by_hand(
    session: Session,
    owners: list[int],
    row_id: int,
    *,
    sent: bool,
    now: datetime,
    playbook: Playbook,
) -> m.OutboxMessage:
    """A person says whether an `unknown` message went (they looked in their Sent folder)."""
    row = session.scalar(
        select(OB)
        .join(m.Deal, m.Deal.id == OB.deal_id)
        .where(OB.id == row_id, m.Deal.owner_id.in_(owners))
        .with_for_update(of=OB)
    )
    if row is None:
        raise NotFound(f"no outbox message {row_id}")
    if row.state != "unknown":
        raise Conflict(f"outbox message {row_id} is {row.state}, not unknown: nothing to resolve")
    at = row.last_attempt_at or now
    if sent:
        _went(session, row, at, "went: said by hand")
        session.flush()
        owner_id = session.get_one(m.Deal, row.deal_id).owner_id
        planning.plan(session, [owner_id], now, playbook=playbook, deal_ids=[row.deal_id])
    else:
        _requeue(session, row, at, "never went: said by hand",
                 "never went (said by hand): sending it again")  # fmt: skip
    return row
