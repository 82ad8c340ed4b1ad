"""Reads for people: lists of contacts and deals, and one deal's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from unghost.domain.model import REASONS, STATES
from unghost.domain.playbook import Playbook
from unghost.errors import NotFound
from unghost.services import checks
from unghost.services import plan as planning
from unghost.services.checks import quote
from unghost.store import models as m


def owner_scope(session: Session, owner_email: str | None) -> list[int]:
    """The ids of the users a read covers: one owner, or everyone (CONTRACT: `--owner`)."""
    if owner_email:
        user = session.scalar(
            select(m.User).where(func.lower(m.User.email) == owner_email.strip().lower())
        )
        if user is None:
            raise NotFound(f"--owner: no user {quote(owner_email)}")
        return [user.id]
    return list(session.scalars(select(m.User.id)))


def list_contacts(session: Session, owners: list[int]) -> list[dict[str, Any]]:
    """Every contact of these owners, by name."""
    rows = session.execute(
        select(m.Contact, m.User.email)
        .join(m.User, m.User.id == m.Contact.owner_id)
        .where(m.Contact.owner_id.in_(owners))
        .order_by(m.Contact.name, m.Contact.id)
    )
    return [
        {
            "id": c.key,
            "owner": owner,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "company": c.company,
            "title": c.title,
            "timezone": c.timezone,
            "do_not_contact": c.do_not_contact,
        }
        for c, owner in rows
    ]


def list_deals(session: Session, owners: list[int]) -> list[dict[str, Any]]:
    """Every deal of these owners with its contact and the time of its last touch."""
    last = (
        select(m.Touch.deal_id, func.max(m.Touch.at).label("last_at"))
        .group_by(m.Touch.deal_id)
        .subquery()
    )
    contact = aliased(m.Contact)
    rows = session.execute(
        select(m.Deal, contact.key, contact.name, contact.company, last.c.last_at, m.User)
        .join(contact, contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Deal.owner_id)
        .outerjoin(last, last.c.deal_id == m.Deal.id)
        .where(m.Deal.owner_id.in_(owners))
        .order_by(m.Deal.stage, m.Deal.key)
    )
    out = []
    for deal, ckey, cname, company, last_at, user in rows:
        tz = checks.zone(user.timezone)
        out.append(
            {
                "id": deal.key,
                "owner": user.email,
                "title": deal.title,
                "contact": ckey,
                "contact_name": cname,
                "company": company,
                "stage": deal.stage,
                "urgency": deal.urgency,
                "state": deal.state,
                "last_touch": _iso(last_at, tz),
            }
        )
    return out


PAGE_SIZE = 50


def _state() -> ColumnElement[Any]:
    """A deal's state as people read it: a won or lost deal is that, planned or not (only
    open deals are planned, so their stored state may predate the stage)."""
    return case((m.Deal.stage.in_(("won", "lost")), m.Deal.stage), else_=m.Deal.state)


def _has_reason(reason: str) -> ColumnElement[bool]:
    # The reasons are stored in the assessment's JSON, as quoted words of their own.
    return cast(m.Deal.assessment, String).like(f'%"{reason}"%')


# Steps due within this long are shown (Today, a deal's page) and must have their words.
SHOWN_AHEAD = timedelta(hours=40)


def stale_deals(session: Session, owners: list[int], now: datetime) -> list[int]:
    """The open deals never planned, or whose plan has run out by `now`, or whose step due
    soon was stored undrafted (`plan.refresh` leaves far steps without words)."""
    ran_out = select(m.Deal.id).where(
        m.Deal.owner_id.in_(owners),
        m.Deal.stage == "open",
        or_(m.Deal.planned_at.is_(None), m.Deal.replan_at <= now),
    )
    undrafted = (
        select(m.Step.deal_id)
        .join(m.Deal, m.Deal.id == m.Step.deal_id)
        .where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open")
        .where(m.Step.status.in_(planning.OPEN), m.Step.due < now + SHOWN_AHEAD)
        .where(m.Step.body.is_(None))
    )
    return sorted(set(session.scalars(ran_out)) | set(session.scalars(undrafted)))


def replan_stale(session: Session, owners: list[int], now: datetime, playbook: Playbook) -> int:
    """Plan the open deals never planned or whose plan has run out, so that the states and
    reasons stored on the deals are right at `now`; returns how many were planned.

    Every write replans the deals it changes, so this is all reads need before trusting
    the stored plans.
    """
    stale = stale_deals(session, owners, now)
    if stale:
        planning.plan(session, owners, now, playbook=playbook, deal_ids=stale)
    return len(stale)


def deal_counts(session: Session, owners: list[int]) -> dict[str, Any]:
    """How many deals these owners have in each state and with each silence reason, in one
    grouped query: `{"total": n, "states": {state: n}, "reasons": {reason: n}}`."""
    state = _state()
    columns = [func.sum(case((_has_reason(r), 1), else_=0)) for r in REASONS]
    rows = session.execute(
        select(state, func.count(), *columns).where(m.Deal.owner_id.in_(owners)).group_by(state)
    ).all()
    states: dict[str, int] = {}
    reasons = dict.fromkeys(REASONS, 0)
    for row in rows:
        states[row[0] or "unplanned"] = int(row[1])
        for reason, n in zip(REASONS, row[2:], strict=True):
            reasons[reason] += int(n or 0)
    return {"total": sum(states.values()), "states": states, "reasons": reasons}


def deals_page(
    session: Session,
    owners: list[int],
    *,
    state: str | None = None,
    reason: str | None = None,
    search: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of deals by id, with contact, state, silence reasons and the next step;
    keyset-paginated (the cursor is the last deal's id), so page 500 costs what page 1 does.
    Returns the page and the next cursor (None on the last page)."""
    contact = aliased(m.Contact)
    query = (
        select(m.Deal, contact.key, contact.name, contact.company, m.User.timezone, _state())
        .join(contact, contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Deal.owner_id)
        .where(m.Deal.owner_id.in_(owners))
        .order_by(m.Deal.key, m.Deal.id)
        .limit(limit + 1)
    )
    if state:
        query = query.where(_state() == checks.choice(state, "state", STATES, default=None))
    if search:
        like = (
            "%" + search.strip().lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        )
        query = query.where(
            or_(
                func.lower(m.Deal.key).like(like),
                func.lower(m.Deal.title).like(like),
                func.lower(contact.name).like(like),
                func.lower(contact.company).like(like),
            )
        )
    if reason:
        checks.choice(reason, "reason", REASONS, default=None)
        query = query.where(_has_reason(reason))
    if cursor:
        query = query.where(m.Deal.key > checks.one_line(cursor, "cursor", max_len=200))
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r[0].id for r in rows]
    nexts: dict[int, m.Step] = {}
    if ids:
        for row in session.scalars(
            select(m.Step)
            .where(m.Step.deal_id.in_(ids), m.Step.status.in_(("planned", "approved")))
            .order_by(m.Step.due.desc())
        ):
            nexts[row.deal_id] = row  # the earliest open step wins
    out = []
    for deal, ckey, cname, company, tz_name, shown_state in rows:
        reasons = list((deal.assessment or {}).get("reasons", ()))
        step = nexts.get(deal.id)
        tz = checks.zone(tz_name)
        out.append(
            {
                "deal": deal.key,
                "title": deal.title,
                "contact": ckey,
                "contact_name": cname,
                "company": company,
                "stage": deal.stage,
                "state": shown_state,
                "reasons": reasons,
                "next": {
                    "play": step.play,
                    "channel": step.channel,
                    "due": _iso(step.due, tz),
                }
                if step is not None
                else None,
            }
        )
    return out, (rows[-1][0].key if more and rows else None)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # touch | meeting | promise | proposal
    text: str
    detail: dict[str, Any]


def find_deal(session: Session, owners: list[int], key: str) -> m.Deal:
    """The deal with this id among these owners' deals, else NotFound."""
    deal = session.scalar(select(m.Deal).where(m.Deal.key == key, m.Deal.owner_id.in_(owners)))
    if deal is None:
        raise NotFound(f"no deal {quote(key)}")
    return deal


def deal_timeline(session: Session, owners: list[int], key: str) -> dict[str, Any]:
    """One deal's fields and every touch, meeting, promise and proposal event, oldest first."""
    deal = find_deal(session, owners, key)
    owner = session.get_one(m.User, deal.owner_id)
    tz = checks.zone(owner.timezone)
    contacts = {
        c.id: c
        for c in session.scalars(select(m.Contact).where(m.Contact.owner_id == deal.owner_id))
    }
    events: list[dict[str, Any]] = []
    # A reply is shown on the inbound touch it left; one that left none, on its own.
    replies = list(
        session.scalars(
            select(m.Reply)
            .where(m.Reply.deal_id == deal.id, m.Reply.owner_id == deal.owner_id)
            .order_by(m.Reply.received_at, m.Reply.id)
        )
    )
    by_touch = {r.touch_id: r for r in replies if r.touch_id is not None}
    touch_ids: set[int] = set()
    for t in session.scalars(
        select(m.Touch).where(m.Touch.deal_id == deal.id).order_by(m.Touch.at, m.Touch.id)
    ):
        touch_ids.add(t.id)
        who = contacts[t.contact_id].key if t.contact_id in contacts else None
        event: dict[str, Any] = {
            "at": _iso(t.at, tz),
            "kind": "touch",
            "channel": t.channel,
            "direction": t.direction,
            "outcome": t.outcome,
            "contact": who,
            "subject": t.subject,
            "body": t.body,
            "play": t.play,
        }
        if t.id in by_touch:
            event["reply"] = _reply(by_touch[t.id])
        events.append(event)
    for r in replies:
        if r.touch_id not in touch_ids:
            who = contacts[r.contact_id].key if r.contact_id in contacts else None
            events.append(
                {"at": _iso(r.received_at, tz), "kind": "reply", "contact": who,
                 "subject": r.subject, "reply": _reply(r)}
            )  # fmt: skip
    for mt in session.scalars(select(m.Meeting).where(m.Meeting.deal_id == deal.id)):
        events.append(
            {
                "at": _iso(mt.at, tz),
                "kind": "meeting",
                "minutes": mt.minutes,
                "confirmed": mt.confirmed,
                "status": mt.status,
            }
        )
    for p in session.scalars(select(m.Promise).where(m.Promise.deal_id == deal.id)):
        events.append({"at": p.by.isoformat(), "kind": "promise", "who": p.who, "note": p.note})
    if deal.proposal_sent_at is not None:
        events.append(
            {
                "at": _iso(deal.proposal_sent_at, tz),
                "kind": "proposal",
                "amount": str(deal.proposal_amount) if deal.proposal_amount is not None else None,
                "currency": deal.proposal_currency,
                "expires_at": deal.proposal_expires_at.isoformat()
                if deal.proposal_expires_at
                else None,
            }
        )
    events.sort(key=lambda e: str(e["at"])[:10] + _sortable(e))
    contact = contacts[deal.contact_id]
    return {
        "deal": deal.key,
        "owner": owner.email,
        "title": deal.title,
        "stage": deal.stage,
        "state": deal.state,
        "urgency": deal.urgency,
        "reasons": list((deal.assessment or {}).get("reasons", ())),
        "problem": deal.problem,
        "benefits": deal.benefits,
        "cost_of_inaction": deal.cost_of_inaction,
        "proposal": _proposal(deal, tz),
        "contact": {
            "id": contact.key,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "company": contact.company,
            "timezone": contact.timezone,
        },
        "referrer": contacts[deal.referrer_id].key if deal.referrer_id else None,
        "advocate": contacts[deal.advocate_id].key if deal.advocate_id else None,
        "events": events,
    }


def _proposal(deal: m.Deal, tz: Any) -> dict[str, Any] | None:
    if deal.proposal_sent_at is None and deal.proposal_expires_at is None:
        return None
    return {
        "sent_at": _iso(deal.proposal_sent_at, tz),
        "expires_at": deal.proposal_expires_at.isoformat() if deal.proposal_expires_at else None,
        "amount": str(deal.proposal_amount) if deal.proposal_amount is not None else None,
        "currency": deal.proposal_currency,
    }


def _reply(r: m.Reply) -> dict[str, Any]:
    """What reading a reply found: its new text, intent (as corrected), auto-reply, bounce."""
    return {
        "id": r.id,
        "from": r.from_address,
        "new_text": r.new_text,
        "intent": r.corrected_intent or r.intent,
        "auto_reply": r.auto_reply,
        "bounce": r.bounce,
        "reaction": r.reaction,
        "handled": r.handled_at is not None,
    }


def _sortable(e: dict[str, Any]) -> str:
    # Promises carry a date only; they sort after the day's timed events.
    at = str(e["at"])
    return at[10:] if len(at) > 10 else "~"


def _iso(v: datetime | None, tz: Any) -> str | None:
    return v.astimezone(tz).isoformat() if v is not None else None
