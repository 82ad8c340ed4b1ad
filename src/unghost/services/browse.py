"""Reads for people: lists of contacts and deals, and one deal's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from unghost.domain.model import REASONS, STATES
from unghost.errors import NotFound
from unghost.services import checks
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
        select(m.Deal, contact.key, contact.name, contact.company, m.User.timezone)
        .join(contact, contact.id == m.Deal.contact_id)
        .join(m.User, m.User.id == m.Deal.owner_id)
        .where(m.Deal.owner_id.in_(owners))
        .order_by(m.Deal.key, m.Deal.id)
        .limit(limit + 1)
    )
    if state:
        query = query.where(m.Deal.state == checks.choice(state, "state", STATES, default=None))
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
        # The reasons are stored in the assessment's JSON, as quoted words of their own.
        query = query.where(cast(m.Deal.assessment, String).like(f'%"{reason}"%'))
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
    for deal, ckey, cname, company, tz_name in rows:
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
                "state": deal.state,
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
    for t in session.scalars(
        select(m.Touch).where(m.Touch.deal_id == deal.id).order_by(m.Touch.at, m.Touch.id)
    ):
        who = contacts[t.contact_id].key if t.contact_id in contacts else None
        events.append(
            {
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
        )
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
        "problem": deal.problem,
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


def _sortable(e: dict[str, Any]) -> str:
    # Promises carry a date only; they sort after the day's timed events.
    at = str(e["at"])
    return at[10:] if len(at) > 10 else "~"


def _iso(v: datetime | None, tz: Any) -> str | None:
    return v.astimezone(tz).isoformat() if v is not None else None
