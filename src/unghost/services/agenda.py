"""Today's agenda, a deal's mapped-out cadence, and marking a step done or skipped."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from unghost.channels.ics import busy_times
from unghost.domain.calendar import BusinessCalendar, zone
from unghost.domain.planner import Step, step_touches
from unghost.domain.planner import cadence as map_cadence
from unghost.domain.playbook import Playbook
from unghost.domain.slots import free_slots
from unghost.errors import BadInput, Conflict, NotFound
from unghost.services import checks
from unghost.services import plan as planning
from unghost.services.browse import find_deal, replan_stale
from unghost.services.owners import owner_of
from unghost.store import models as m

QUESTION_DAYS = 14  # how far back an unconfirmed meeting still deserves a question
# The play that comes right after replies when the deal's meeting was missed.
MISSED_MEETING = "missed-meeting"


def today(
    session: Session,
    owners: list[int],
    now: datetime,
    *,
    playbook: Playbook,
    replan: Literal["all", "stale", "none"] = "all",
    limit: int | None = None,
    start: int = 0,
) -> dict[str, Any]:
    """What is due today, in order: replies, then missed meetings, then by due time.

    Plans first, so the agenda is never stale. `replan="all"` checks every open deal
    against its inputs (the CLI: an import may have changed anything); `"stale"` replans
    only the deals never planned or whose plan has run out, and reads the rest from the
    stored steps — for the web app, where every write replans the deal it changes;
    `"none"` only reads (the caller has run `browse.replan_stale` in a write of its own).
    With `limit`, only the items from `start` to `start + limit` are made (a page of the
    web app's Today: an owner with thousands of deals may have thousands due), and
    `total` says how many there are in all.
    """
    items: list[tuple[tuple[int, str], dict[str, Any]]] = []
    for reply, deal_key, contact_key, tz_name in session.execute(
        select(m.Reply, m.Deal.key, m.Contact.key, m.User.timezone)
        .join(m.Deal, m.Deal.id == m.Reply.deal_id)
        .join(m.Contact, m.Contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Reply.owner_id)
        .where(m.Reply.owner_id.in_(owners), m.Reply.handled_at.is_(None))
        .where(m.Reply.received_at <= now)
        .order_by(m.Reply.received_at)
    ):
        items.append(
            ((0, reply.received_at.isoformat()), _reply_item(reply, deal_key, contact_key, tz_name))
        )
    if replan == "all":
        due = _due_all(session, owners, now, playbook)
        due_total = None
    else:
        if replan == "stale":
            replan_stale(session, owners, now, playbook)
        first = None if limit is None else start + limit
        due, due_total = _due_stored(session, owners, now, first=first)
    first_tz: str | None = None
    steps = 0
    for deal_key, contact_key, step_id, step, tz_name, reasons in due:
        tz = zone(tz_name)
        first_tz = first_tz or tz_name
        if step.due >= planning.end_of_day(now, tz):
            continue
        steps += 1
        rank = 1 if "missed_meeting" in reasons and step.play == MISSED_MEETING else 2
        item = {"kind": "step", "deal": deal_key, "contact": contact_key, "step_id": step_id}
        item.update(planning.step_json(step, tz))
        items.append(((rank, step.due.astimezone(zone("UTC")).isoformat()), item))
    for q in _questions(session, owners, now):
        items.append(((3, q["meeting"]), q))
    items.sort(key=lambda kv: kv[0])
    if first_tz is None:
        first_tz = session.scalar(select(m.User.timezone).where(m.User.id.in_(owners)).limit(1))
    as_of = now.astimezone(zone(first_tz or "UTC")).isoformat()
    if limit is None:
        return {"as_of": as_of, "items": [i for _, i in items]}
    total = len(items) - steps + (steps if due_total is None else due_total)
    return {"as_of": as_of, "items": [i for _, i in items[start : start + limit]], "total": total}


def named(
    session: Session, owners: list[int], items: list[dict[str, Any]]
) -> tuple[dict[str, m.Contact], dict[str, str]]:
    """The contacts the agenda items name (prospect and recipients) by id, and the titles
    of their deals by id: two queries, whatever the number of items."""
    keys = {i["contact"] for i in items} | {k for i in items for k in i.get("to", ())}
    people = {
        c.key: c
        for c in session.scalars(
            select(m.Contact).where(m.Contact.owner_id.in_(owners), m.Contact.key.in_(sorted(keys)))
        )
    }
    titles = dict(
        session.execute(
            select(m.Deal.key, m.Deal.title).where(
                m.Deal.owner_id.in_(owners), m.Deal.key.in_(sorted({i["deal"] for i in items}))
            )
        ).all()
    )
    return people, titles


# (deal, contact, step id, step, owner's zone, the deal's silence reasons)
_Due = tuple[str, str, int | None, Step, str, tuple[str, ...]]


def _due_all(session: Session, owners: list[int], now: datetime, playbook: Playbook) -> list[_Due]:
    out: list[_Due] = []
    for p in planning.plan(session, owners, now, playbook=playbook):
        if p.plan.next is not None:
            out.append((p.plan.deal, p.plan.contact, p.step_id, p.plan.next, p.owner.timezone,
                        p.plan.assessment.reasons))  # fmt: skip
    return out


def _due_stored(
    session: Session, owners: list[int], now: datetime, *, first: int | None
) -> tuple[list[_Due], int]:
    """The stored open steps due by the end of their owner's day, by due time, and how
    many there are; with `first`, only the first that many (and every missed-meeting
    step, which may rank ahead of them)."""
    # Each owner's day ends at its own midnight: owners that share one share a bound.
    ends: dict[datetime, list[int]] = {}
    for user_id, tz_name in session.execute(
        select(m.User.id, m.User.timezone).where(m.User.id.in_(owners))
    ):
        ends.setdefault(planning.end_of_day(now, zone(tz_name)), []).append(user_id)
    if not ends:
        return [], 0
    due_today = [
        m.Deal.stage == "open",
        or_(*(and_(m.Deal.owner_id.in_(ids), m.Step.due < end) for end, ids in ends.items())),
    ]
    query = (
        select(m.Step, m.Deal.key, m.Contact.key, m.User.timezone, m.Deal.assessment)
        .join(m.Deal, m.Deal.id == m.Step.deal_id)
        .join(m.Contact, m.Contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Deal.owner_id)
        .where(*due_today)
        .order_by(m.Step.due, m.Step.id)
    )
    if first is None:
        rows = list(session.execute(query.where(m.Step.status.in_(planning.OPEN))))
        return _due_rows(rows), len(rows)
    # Every missed-meeting step, which may rank ahead of the others (index on play); then
    # the first of each status by due time, each an ordered walk of (status, due, deal_id).
    rows = list(
        session.execute(
            query.where(m.Step.play == MISSED_MEETING, m.Step.status.in_(planning.OPEN))
        )
    )
    for status in planning.OPEN:
        rows += session.execute(
            query.where(m.Step.status == status, m.Step.play != MISSED_MEETING).limit(first)
        )
    total = session.scalar(
        select(func.count())
        .select_from(m.Step)
        .join(m.Deal, m.Deal.id == m.Step.deal_id)
        .where(m.Step.status.in_(planning.OPEN), *due_today)
    )
    return _due_rows(rows), total or 0


def _due_rows(rows: Any) -> list[_Due]:
    return [
        (deal, contact, step.id, planning.step_from_row(step), tz_name,
         tuple((assessment or {}).get("reasons", ())))
        for step, deal, contact, tz_name, assessment in rows
    ]  # fmt: skip


def _reply_item(reply: m.Reply, deal: str, contact: str, tz_name: str) -> dict[str, Any]:
    return {
        "kind": "reply",
        "deal": deal,
        "contact": contact,
        "reply_id": reply.id,
        "received_at": reply.received_at.astimezone(zone(tz_name)).isoformat(),
        "subject": reply.subject,
        "new_text": reply.new_text,
        "intent": reply.corrected_intent or reply.intent,
        "reaction": reply.reaction,
        "confidence": reply.confidence,
        "dates": reply.dates,
    }


def _questions(session: Session, owners: list[int], now: datetime) -> list[dict[str, Any]]:
    """Things only the seller knows: did an unconfirmed meeting that has passed take place?"""
    out = []
    rows = session.execute(
        select(m.Meeting, m.Deal.key, m.Contact.key, m.Contact.name, m.User.timezone)
        .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
        .join(m.Contact, m.Contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Deal.owner_id)
        .where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open")
        .where(m.Meeting.status == "scheduled", m.Meeting.confirmed.is_(False))
        .where(m.Meeting.at <= now, m.Meeting.at >= now - timedelta(days=QUESTION_DAYS))
    )
    for meeting, deal, contact, name, tz_name in rows:
        if meeting.at + timedelta(minutes=meeting.minutes) > now:
            continue
        when = meeting.at.astimezone(zone(tz_name))
        out.append(
            {
                "kind": "question",
                "deal": deal,
                "contact": contact,
                "meeting": when.isoformat(),
                "question": f"Did the meeting with {name} on {when:%A} {when.day} {when:%B} at "
                f"{when:%H:%M} happen? Log it held (--channel meeting --outcome held) or missed.",
            }
        )
    return out


def cadence(
    session: Session, owners: list[int], deal_key: str, now: datetime, *, playbook: Playbook
) -> dict[str, Any]:
    """Rule 8: the whole cadence the deal would follow with no reply (CONTRACT `cadence`)."""
    row = find_deal(session, owners, deal_key)
    worlds = list(planning.load_worlds(session, owners, playbook, deal_ids=[row.id]))
    _, owner, world = worlds[0]
    tz = zone(owner.timezone)
    steps = map_cadence(world, now)
    return {
        "deal": deal_key,
        "steps": [
            {
                "play": s.play,
                "variant": s.variant,
                "channel": s.channel,
                "to": list(s.to),
                "due": s.due.astimezone(tz).isoformat(),
                "subject": s.subject,
            }
            for s in steps
        ],
    }


def finish_step(
    session: Session,
    owners: list[int],
    deal_key: str,
    at: datetime,
    *,
    playbook: Playbook,
    skip: bool = False,
) -> dict[str, Any]:
    """The deal's next step was done (its touch recorded, as sent) or skipped; then replan."""
    row = find_deal(session, owners, deal_key)
    planning.plan(session, owners, at, playbook=playbook, deal_ids=[row.id])
    step = session.scalar(
        select(m.Step)
        .where(m.Step.deal_id == row.id, m.Step.status.in_(planning.OPEN))
        .order_by(m.Step.due)
        .limit(1)
    )
    if step is None:
        raise NotFound(f'deal "{deal_key}" has no planned step to mark')
    if step.status not in planning.OPEN:
        raise Conflict(f"the step is already {step.status}")
    step.done_at = at
    if skip:
        step.status = "skipped"
    else:
        step.status = "done"
        step.touch_id = record_step_touches(session, row, step, at) or None
        for flag in playbook.play(step.play).sets if _known(playbook, step.play) else ():
            setattr(row, flag, True)  # rule 7: the agreement is now on the deal
    session.flush()
    after = planning.plan(session, owners, at, playbook=playbook, deal_ids=[row.id])
    tz = zone(after[0].owner.timezone)
    nxt = after[0].plan.next
    return {
        "deal": deal_key,
        "step": {"play": step.play, "variant": step.variant, "status": step.status},
        "state": after[0].plan.assessment.state,
        "next": planning.step_json(nxt, tz) if nxt else None,
    }


def record_step_touches(session: Session, deal: m.Deal, step: m.Step, at: datetime) -> int:
    """Store the touches the done step leaves; returns the last one's id."""
    from unghost.services.touchrows import touch_fingerprint

    contact_id = deal.contact_id
    if step.to:
        found = session.scalar(
            select(m.Contact.id).where(
                m.Contact.owner_id == deal.owner_id, m.Contact.key == step.to[0]
            )
        )
        contact_id = found or contact_id
    last_id = 0
    for t in step_touches(planning.step_from_row(step), at):
        values = (t.at, t.channel, t.direction, t.outcome, t.subject, t.body, t.play)
        row = m.Touch(
            deal_id=deal.id,
            contact_id=contact_id,
            at=t.at,
            channel=t.channel,
            direction=t.direction,
            outcome=t.outcome,
            subject=t.subject,
            body=t.body,
            play=t.play,
            variant=t.variant,
            content_key=t.content,
            fingerprint=touch_fingerprint(deal.id, contact_id, values),
        )
        session.add(row)
        session.flush()
        last_id = row.id
    return last_id


def _known(playbook: Playbook, play: str) -> bool:
    return any(p.id == play for p in playbook.plays)


def slots(
    session: Session,
    owners: list[int],
    now: datetime,
    *,
    tz: str | None = None,
    count: int = 3,
    calendar: Path | None = None,
    minutes: int = 30,
) -> list[dict[str, str]]:
    """Free times to propose (CONTRACT `slots`): the owner's working hours, minus meetings in
    the store and the busy times of an iCalendar file, in `tz` (else the owner's zone)."""
    if len(owners) != 1:
        raise BadInput("several users in this database: name one with --owner EMAIL")
    owner = session.get_one(m.User, owners[0])
    cal = BusinessCalendar.for_owner(owner_of(owner))
    if tz is not None:
        checks.timezone(tz, "--tz")
    horizon = now + timedelta(days=30)
    busy = [
        (mt.at, mt.at + timedelta(minutes=mt.minutes))
        for mt in session.scalars(
            select(m.Meeting)
            .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
            .where(m.Deal.owner_id == owner.id, m.Meeting.status == "scheduled")
            .where(m.Meeting.at >= now - timedelta(days=1), m.Meeting.at <= horizon)
        )
    ]
    if calendar is not None:
        if not calendar.is_file():
            raise NotFound(f"{calendar}: no such file")
        busy += busy_times(calendar.read_bytes(), now, horizon, tz=cal.zone, source=str(calendar))
    found = free_slots(cal, busy, now=now, count=count, minutes=minutes, recipient_tz=tz)
    return [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in found]
