"""Is a deal's stored plan still right? A digest of everything the planner reads.

The planner is a pure function of the deal's history, its people, what they have
already received, the owner's calendar and the playbook (and of time, which
`Deal.replan_at` covers). This module computes, in a fixed number of queries
whatever the number of deals, a digest of those inputs per deal; a plan stored
with the same digest, made at or before `now` and good until after it, is reused
instead of being drafted again (STYLE: the database is the queue).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from unghost.domain.playbook import Playbook
from unghost.store import models as m

# Columns the planner does not read: the stored plan itself.
_BOOKKEEPING = frozenset({"state", "assessment", "plan_digest", "planned_at", "replan_at"})


def digests(
    session: Session,
    owners: Sequence[int],
    deals: Sequence[Any],
    playbook: Playbook,
    *,
    scope: ColumnElement[bool],
) -> dict[int, str]:
    """deal id → digest of the planner's inputs; `scope` selects the same deals in SQL."""
    ids_scope = select(m.Deal.id).where(scope)
    users = {
        u.id: u for u in session.execute(select(m.User.__table__).where(m.User.id.in_(owners)))
    }
    contacts = {
        c.id: c
        for c in session.execute(
            select(m.Contact.__table__).where(m.Contact.owner_id.in_(owners))
        ).all()
    }
    touches = _agg(
        session,
        select(m.Touch.deal_id, func.count(), func.max(m.Touch.id))
        .where(m.Touch.deal_id.in_(ids_scope))
        .group_by(m.Touch.deal_id),
    )
    received = _agg(
        session,
        select(m.Touch.contact_id, func.count(), func.max(m.Touch.id))
        .join(m.Deal, m.Deal.id == m.Touch.deal_id)
        .where(m.Deal.owner_id.in_(owners), m.Touch.direction == "out")
        .group_by(m.Touch.contact_id),
    )
    skipped = _agg(
        session,
        select(m.Step.deal_id, func.count(), func.sum(m.Step.id))
        .where(m.Step.deal_id.in_(ids_scope), m.Step.status == "skipped")
        .group_by(m.Step.deal_id),
    )
    meetings: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    busy: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.execute(
        select(m.Meeting.__table__, m.Deal.owner_id)
        .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
        .where(m.Deal.owner_id.in_(owners))
    ):
        values = (row.id, row.at, row.minutes, row.confirmed, row.status)
        meetings[row.deal_id].append(values)
        busy[row.owner_id].append(values)
    promises: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.execute(select(m.Promise.__table__).where(m.Promise.deal_id.in_(ids_scope))):
        promises[row.deal_id].append(tuple(row))
    content: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.execute(
        select(m.ContentItem.__table__).where(m.ContentItem.owner_id.in_(owners))
    ):
        content[row.owner_id].append(tuple(row))
    owner_part = {
        uid: _hash(
            playbook.digest,
            tuple(users[uid]),
            sorted(content[uid]),
            sorted(busy[uid]),
        )
        for uid in users
    }
    out: dict[int, str] = {}
    names = list(deals[0]._fields) if deals else []
    planner_columns = [i for i, name in enumerate(names) if name not in _BOOKKEEPING]
    for d in deals:
        people = [d.contact_id, d.referrer_id, d.advocate_id]
        prospect = contacts.get(d.contact_id)
        if prospect is not None and prospect.assistant_id is not None:
            people.append(prospect.assistant_id)
        out[d.id] = _hash(
            owner_part[d.owner_id],
            [d[i] for i in planner_columns],
            [tuple(contacts[p]) if p in contacts else None for p in people],
            [received.get(p) for p in people],
            touches.get(d.id),
            sorted(meetings.get(d.id, ())),
            sorted(promises.get(d.id, ())),
            skipped.get(d.id),
        )
    return out


def _agg(session: Session, query: Any) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in session.execute(query).all()}


def _hash(*parts: Iterable[Any] | Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
