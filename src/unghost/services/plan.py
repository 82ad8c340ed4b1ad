"""The planning use case: load deals, decide in the domain, store the steps.

`plan` serves `unghost plan`, `unghost today`, the worker and the web alike.
Steps are rows: a deal has at most one open step (planned or approved); a new
plan that differs cancels it and adds the new one, and a deal with nothing to
do (active, paused, won…) has its open step cancelled — which is how contact
from the prospect cancels every step not yet done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    Table,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from unghost.domain import model as d
from unghost.domain.calendar import BusinessCalendar, zone
from unghost.domain.compose import Sent
from unghost.domain.planner import Plan, Step, World, plan_deal, replan_at
from unghost.domain.playbook import Playbook, load_playbook
from unghost.domain.silence import Assessment, episode_start
from unghost.services import freshness
from unghost.services.owners import owner_of
from unghost.store import models as m
from unghost.store.bulk import insert_rows

OPEN = ("planned", "approved")
STEP_COLUMNS = (
    "deal_id", "play", "variant", "channel", "to", "cc", "due", "subject", "body", "script",
    "why", "warnings", "content_key", "times", "dial", "status", "planned_at",
)  # fmt: skip


@cache
def default_playbook(user_dir: Path | None = None) -> Playbook:
    """The playbook in force (loaded and validated once per process)."""
    return load_playbook(user_dir)


@dataclass(frozen=True)
class Planned:
    """One deal's plan with what the output needs to name it."""

    plan: Plan
    owner: d.Owner
    deal_id: int
    step_id: int | None


def plan(
    session: Session,
    owners: Sequence[int],
    now: datetime,
    *,
    playbook: Playbook,
    deals: Sequence[str] | None = None,
    deal_ids: Sequence[int] | None = None,
) -> list[Planned]:
    """Plan every open deal of these owners (or the named ones) at `now`, storing the steps.

    A deal whose stored plan is still right (same inputs, and `now` within the time it
    holds) is not drafted again; the others are planned and stored.
    """
    scope = _scope(owners, deals, deal_ids)
    rows = list(session.execute(select(m.Deal.__table__).where(scope).order_by(m.Deal.key)))
    if not rows:
        return []
    digest = freshness.digests(session, owners, rows, playbook, scope=scope)
    stale = [r.id for r in rows if not _still_right(r, digest[r.id], now)]
    computed: dict[int, Planned] = {}
    if stale:
        wanted = set(stale)
        if len(stale) < 500:
            loaded = load_worlds(session, owners, playbook, deal_ids=stale)
        else:  # many: one pass over the whole scope beats a long IN list
            loaded = load_worlds(session, owners, playbook, deals=deals, deal_ids=deal_ids)
        worlds = [w for w in loaded if w[0] in wanted]
        plans = [(deal_id, owner, world, plan_deal(world, now)) for deal_id, owner, world in worlds]
        step_ids = store_plans(session, [(deal_id, p) for deal_id, _, _, p in plans], now)
        _remember(session, [(i, p, replan_at(w, p, now), digest[i]) for i, _, w, p in plans], now)
        computed = {i: Planned(p, o, i, step_ids.get(i)) for i, o, _, p in plans}
    reused = _stored(session, owners, [r for r in rows if r.id not in computed])
    return [computed.get(r.id) or reused[r.id] for r in rows]


def _scope(
    owners: Sequence[int], deals: Sequence[str] | None, deal_ids: Sequence[int] | None
) -> ColumnElement[bool]:
    if deals is not None:
        return and_(m.Deal.owner_id.in_(owners), m.Deal.key.in_(deals))
    if deal_ids is not None:
        return and_(m.Deal.owner_id.in_(owners), m.Deal.id.in_(deal_ids))
    return and_(m.Deal.owner_id.in_(owners), m.Deal.stage == "open")


def _still_right(row: Any, digest: str, now: datetime) -> bool:
    """A stored plan made from the same inputs, at or before `now`, and not yet outlived."""
    if row.plan_digest != digest or row.planned_at is None or row.assessment is None:
        return False
    planned_at = row.planned_at.replace(tzinfo=UTC)
    if now < planned_at:
        return False
    return row.replan_at is None or now < row.replan_at.replace(tzinfo=UTC)


def _remember(
    session: Session, items: Sequence[tuple[int, Plan, datetime | None, str]], now: datetime
) -> None:
    """Store each deal's assessment, the digest it was made from, and until when it holds."""
    deals = m.Deal.__table__
    assert isinstance(deals, Table)
    rows = []
    for deal_id, p, until, digest in items:
        a = p.assessment
        rows.append(
            {
                "_id": deal_id,
                "_state": a.state,
                "_assessment": {
                    "reasons": list(a.reasons),
                    "silent_since": _iso(a.silent_since),
                    "paused_until": _iso(a.paused_until),
                    "nurture_until": _iso(a.nurture_until),
                    "last_inbound": _iso(a.last_inbound),
                    "unanswered": a.unanswered,
                    "facts": list(a.facts),
                    "contact": p.contact,
                },
                "_digest": digest,
                "_planned": now.astimezone(UTC).replace(tzinfo=None),
                "_until": until.astimezone(UTC).replace(tzinfo=None) if until else None,
            }
        )
    if rows:
        session.connection().execute(
            update(deals)
            .where(deals.c.id == bindparam("_id"))
            .values(
                state=bindparam("_state"),
                assessment=bindparam("_assessment"),
                plan_digest=bindparam("_digest"),
                planned_at=bindparam("_planned", type_=DateTime()),
                replan_at=bindparam("_until", type_=DateTime()),
            ),
            rows,
        )


def _stored(session: Session, owners: Sequence[int], rows: Sequence[Any]) -> dict[int, Planned]:
    """The plans kept from an earlier run, read back from the deals and their open steps."""
    if not rows:
        return {}
    users = {
        u.id: owner_of(u) for u in session.scalars(select(m.User).where(m.User.id.in_(owners)))
    }
    ids = [r.id for r in rows]
    steps: dict[int, Any] = {}
    table = m.Step.__table__
    for chunk in _chunks(ids):
        # Filter the status here, not in SQL: with it there, SQLite may pick the
        # (status, due) index and scan every open step once per chunk.
        for s in session.execute(select(table).where(table.c.deal_id.in_(chunk))).all():
            if s.status in OPEN:
                steps[s.deal_id] = s
    out = {}
    for r in rows:
        a = r.assessment
        assessment = Assessment(
            state=r.state,
            reasons=tuple(a["reasons"]),
            silent_since=_time(a["silent_since"]),
            paused_until=_time(a["paused_until"]),
            nurture_until=_time(a["nurture_until"]),
            last_inbound=_time(a["last_inbound"]),
            unanswered=a["unanswered"],
            facts=tuple(a["facts"]),
        )
        open_step = steps.get(r.id)
        out[r.id] = Planned(
            Plan(r.key, a["contact"], assessment, step_from_row(open_step) if open_step else None),
            users[r.owner_id],
            r.id,
            open_step.id if open_step is not None else None,
        )
    return out


def step_from_row(s: Any) -> Step:
    """The domain step a stored step row holds."""
    return Step(
        play=s.play,
        variant=s.variant,
        channel=s.channel,
        to=tuple(s.to),
        cc=tuple(s.cc),
        due=s.due,
        subject=s.subject or "",
        body=s.body or "",
        why=s.why,
        script=s.script,
        warnings=tuple(s.warnings),
        content=s.content_key,
        dial=s.dial,
        times=tuple(s.times),
    )


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _time(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


# -- loading ------------------------------------------------------------------------


def load_worlds(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    deals: Sequence[str] | None = None,
    deal_ids: Sequence[int] | None = None,
) -> Iterator[tuple[int, d.Owner, World]]:
    """Everything the planner needs, for every open deal of these owners (or the named deals).

    A fixed number of queries whatever the number of deals.
    """
    users = {u.id: u for u in session.scalars(select(m.User).where(m.User.id.in_(owners)))}
    owner_view = {uid: owner_of(u) for uid, u in users.items()}
    cals = {uid: BusinessCalendar.for_owner(o) for uid, o in owner_view.items()}
    q = select(m.Deal).where(m.Deal.owner_id.in_(owners))
    named = deals is not None or deal_ids is not None
    if deals is not None:
        q = q.where(m.Deal.key.in_(deals))
    elif deal_ids is not None:
        q = q.where(m.Deal.id.in_(deal_ids))
    else:
        q = q.where(m.Deal.stage == "open")
    deal_rows = list(session.scalars(q.order_by(m.Deal.owner_id, m.Deal.key)))
    if not deal_rows:
        return
    ids = [r.id for r in deal_rows]
    contacts = {c.id: c for c in session.scalars(_contacts_query(owners, deal_rows, named))}
    people = {cid: _contact(c, contacts) for cid, c in contacts.items()}

    by_deal: dict[int, list[d.Touch]] = defaultdict(list)
    sent: dict[int, dict[str, Sent]] = defaultdict(dict)
    wanted = set(ids)
    for t in session.execute(_touches_query(owners, ids, list(contacts), named)).all():
        key = people[t.contact_id].key if t.contact_id in people else None
        if t.deal_id in wanted:
            by_deal[t.deal_id].append(
                d.Touch(
                    at=t.at,
                    channel=t.channel,
                    direction=t.direction,
                    outcome=t.outcome,
                    contact=key,
                    play=t.play,
                    variant=t.variant,
                    content=t.content_key,
                )
            )
        if t.direction == "out" and key is not None:
            owner_id = contacts[t.contact_id].owner_id
            history = sent[owner_id].setdefault(key, Sent())
            if t.variant:
                history.variants.add(t.variant)
            if t.content_key:
                history.content.add(t.content_key)
            if t.body:
                history.bodies.append(t.body)
    meetings: dict[int, list[d.Meeting]] = defaultdict(list)
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for mt, owner_id in session.execute(
        select(m.Meeting, m.Deal.owner_id)
        .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
        .where(m.Deal.owner_id.in_(owners))
        .where(m.Meeting.deal_id.in_(ids) if named else m.Meeting.status != "cancelled")
    ):
        meeting = d.Meeting(at=mt.at, minutes=mt.minutes, confirmed=mt.confirmed, status=mt.status)  # type: ignore[arg-type]
        if mt.deal_id in wanted:
            meetings[mt.deal_id].append(meeting)
        if mt.status == "scheduled":
            busy[owner_id].append((mt.at, mt.at + timedelta(minutes=mt.minutes)))
    promises: dict[int, list[d.Promise]] = defaultdict(list)
    for p in session.scalars(select(m.Promise).where(_in(m.Promise.deal_id, ids, owners, named))):
        promises[p.deal_id].append(d.Promise(by=p.by, who=p.who, note=p.note, made_at=p.made_at))  # type: ignore[arg-type]
    content: dict[int, list[d.ContentItem]] = defaultdict(list)
    for c in session.scalars(select(m.ContentItem).where(m.ContentItem.owner_id.in_(owners))):
        content[c.owner_id].append(
            d.ContentItem(
                key=c.key, title=c.title, url=c.url, tags=tuple(c.tags), summary=c.summary
            )
        )
    skipped: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for sk in session.execute(
        select(m.Step.deal_id, m.Step.play, m.Step.done_at).where(
            m.Step.status == "skipped", _in(m.Step.deal_id, ids, owners, named)
        )
    ):
        if sk.done_at is not None:
            skipped[sk.deal_id].append((sk.play, sk.done_at))

    for row in deal_rows:
        deal = _deal(row, people, by_deal[row.id], meetings[row.id], promises[row.id])
        since = episode_start(deal)
        skips = frozenset(p for p, at in skipped[row.id] if since is None or at > since)
        skips_ever = frozenset(p for p, _ in skipped[row.id])
        cast = {
            people[c].key: people[c]
            for c in (row.contact_id, row.referrer_id, row.advocate_id)
            if c is not None and c in people
        }
        main = people[row.contact_id]
        if main.assistant is not None:
            for c in contacts.values():
                if c.owner_id == row.owner_id and c.key == main.assistant:
                    cast[c.key] = people[c.id]
        yield (
            row.id,
            owner_view[row.owner_id],
            World(
                owner=owner_view[row.owner_id],
                cal=cals[row.owner_id],
                playbook=playbook,
                deal=deal,
                people=cast,
                content=content[row.owner_id],
                sent=sent[row.owner_id],
                skipped=skips,
                busy=busy[row.owner_id],
                skipped_ever=skips_ever,
            ),
        )


def _in(col: Any, ids: list[int], owners: Sequence[int], named: bool) -> Any:
    """Rows of the loaded deals: by id when a few are named, by owner when planning all."""
    if named:
        return col.in_(ids)
    return col.in_(select(m.Deal.id).where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open"))


def _contacts_query(owners: Sequence[int], deal_rows: list[m.Deal], named: bool) -> Select[Any]:
    q = select(m.Contact).where(m.Contact.owner_id.in_(owners))
    if named:
        ids = {c for r in deal_rows for c in (r.contact_id, r.referrer_id, r.advocate_id) if c}
        assistants = select(m.Contact.assistant_id).where(m.Contact.id.in_(ids))
        q = q.where(or_(m.Contact.id.in_(ids), m.Contact.id.in_(assistants)))
    return q


def _touches_query(
    owners: Sequence[int], ids: list[int], contact_ids: list[int], named: bool
) -> Select[*tuple[Any, ...]]:
    cols = (
        m.Touch.deal_id, m.Touch.contact_id, m.Touch.at, m.Touch.channel, m.Touch.direction,
        m.Touch.outcome, m.Touch.play, m.Touch.variant, m.Touch.content_key, m.Touch.body,
    )  # fmt: skip
    q: Select[*tuple[Any, ...]] = select(*cols)
    if named:
        q = q.where(
            or_(
                m.Touch.deal_id.in_(ids),
                and_(m.Touch.direction == "out", m.Touch.contact_id.in_(contact_ids)),
            )
        )
    else:
        q = q.join(m.Deal, m.Deal.id == m.Touch.deal_id).where(m.Deal.owner_id.in_(owners))
    return q.order_by(m.Touch.deal_id, m.Touch.at, m.Touch.id)


def _contact(c: m.Contact, all_contacts: dict[int, m.Contact]) -> d.Contact:
    assistant = all_contacts.get(c.assistant_id) if c.assistant_id else None
    return d.Contact(
        key=c.key,
        name=c.name,
        first_name=c.first_name,
        email=c.email,
        phone=c.phone,
        company=c.company,
        title=c.title,
        timezone=c.timezone,
        linkedin=c.linkedin,
        interests=tuple(c.interests),
        humor_ok=c.humor_ok,
        nearby=c.nearby,
        assistant=assistant.key if assistant else None,
        do_not_contact=c.do_not_contact,
        email_bad=c.email_bad,
    )


def _deal(
    row: m.Deal,
    people: dict[int, d.Contact],
    touches: list[d.Touch],
    meetings: list[d.Meeting],
    promises: list[d.Promise],
) -> d.Deal:
    proposal = None
    if row.proposal_sent_at or row.proposal_expires_at or row.proposal_amount is not None:
        proposal = d.Proposal(
            sent_at=row.proposal_sent_at,
            expires_at=row.proposal_expires_at,
            amount=row.proposal_amount,
            currency=row.proposal_currency,
        )

    def key(cid: int | None) -> str | None:
        return people[cid].key if cid is not None and cid in people else None

    return d.Deal(
        key=row.key,
        contact=people[row.contact_id].key,
        title=row.title,
        stage=row.stage,  # type: ignore[arg-type]
        problem=row.problem,
        benefits=row.benefits,
        cost_of_inaction=row.cost_of_inaction,
        referrer=key(row.referrer_id),
        advocate=key(row.advocate_id),
        urgency=row.urgency,  # type: ignore[arg-type]
        permission_to_say_no=row.permission_to_say_no,
        created_at=row.created_at,
        proposal=proposal,
        tags=tuple(row.tags),
        touches=tuple(touches),
        meetings=tuple(meetings),
        promises=tuple(promises),
        paused_until=row.paused_until,
    )


# -- storing ------------------------------------------------------------------------


def store_plans(
    session: Session, plans: Sequence[tuple[int, Plan]], now: datetime
) -> dict[int, int]:
    """Keep each deal's open step in line with its plan; returns deal id → open step id."""
    ids = [deal_id for deal_id, _ in plans]
    open_steps: dict[int, list[m.Step]] = defaultdict(list)
    states: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        for s in session.scalars(select(m.Step).where(m.Step.deal_id.in_(chunk))):
            if s.status in OPEN:  # in Python: see _stored
                open_steps[s.deal_id].append(s)
        states.update(
            {
                r.id: r.state
                for r in session.execute(
                    select(m.Deal.id, m.Deal.state).where(m.Deal.id.in_(chunk))
                )
            }
        )
    cancel: list[int] = []
    new: list[tuple[Any, ...]] = []
    new_state: list[dict[str, Any]] = []
    kept: dict[int, int] = {}
    for deal_id, p in plans:
        if states.get(deal_id) != p.assessment.state:
            new_state.append({"_id": deal_id, "_state": p.assessment.state})
        step = p.next
        keep = None
        for old in open_steps.get(deal_id, []):
            if keep is None and step is not None and _same(old, step):
                keep = old
            else:
                cancel.append(old.id)
        if keep is not None:
            kept[deal_id] = keep.id
        elif step is not None:
            new.append(_step_row(deal_id, step, now))
    if cancel:
        for chunk in _chunks(cancel):
            session.execute(
                update(m.Step)
                .where(m.Step.id.in_(chunk))
                .values(status="cancelled", done_at=now)
                .execution_options(synchronize_session=False)
            )
    if new_state:
        deals = m.Deal.__table__
        assert isinstance(deals, Table)
        session.connection().execute(
            update(deals).where(deals.c.id == bindparam("_id")).values(state=bindparam("_state")),
            new_state,
        )
    if new:
        insert_rows(session, m.Step.__table__, STEP_COLUMNS, new)
        for chunk in _chunks([row[0] for row in new]):
            for r in session.execute(
                select(m.Step.deal_id, m.Step.id).where(
                    m.Step.deal_id.in_(chunk), m.Step.status == "planned"
                )
            ):
                kept[r.deal_id] = r.id
    return kept


def _same(old: m.Step, step: Step) -> bool:
    """An open step still right for the plan; an approved (edited) draft keeps its words."""
    if old.play != step.play or old.channel != step.channel or list(old.to) != list(step.to):
        return False
    if old.status == "approved":
        return True
    return (
        old.variant == step.variant
        and old.due == step.due
        and old.subject == step.subject
        and old.body == step.body
        and list(old.cc) == list(step.cc)
    )


def _step_row(deal_id: int, s: Step, now: datetime) -> tuple[Any, ...]:
    return (
        deal_id, s.play, s.variant, s.channel, list(s.to), list(s.cc), s.due, s.subject, s.body,
        s.script, s.why, list(s.warnings), s.content, list(s.times), s.dial, "planned", now,
    )  # fmt: skip


def _chunks(ids: Sequence[int], size: int = 900) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# -- output -------------------------------------------------------------------------


def step_json(step: Step, tz: Any) -> dict[str, Any]:
    """A step as CONTRACT.md's `next` object (plus script, dial, times, content)."""
    return {
        "play": step.play,
        "variant": step.variant,
        "channel": step.channel,
        "to": list(step.to),
        "cc": list(step.cc),
        "due": step.due.astimezone(tz).isoformat(),
        "subject": step.subject,
        "body": step.body,
        "why": step.why,
        "warnings": list(step.warnings),
        "script": step.script,
        "dial": step.dial,
        "times": list(step.times),
        "content": step.content,
    }


def plan_json(planned: Sequence[Planned], now: datetime) -> dict[str, Any]:
    """`plan --json` of CONTRACT.md."""
    out = []
    tz_now = None
    for item in planned:
        tz = zone(item.owner.timezone)
        tz_now = tz_now or tz
        a = item.plan.assessment
        out.append(
            {
                "deal": item.plan.deal,
                "contact": item.plan.contact,
                "state": a.state,
                "reasons": list(a.reasons),
                "silent_since": a.silent_since.astimezone(tz).isoformat()
                if a.silent_since
                else None,
                "paused_until": a.paused_until.astimezone(tz).isoformat()
                if a.paused_until
                else None,
                "nurture_until": a.nurture_until.astimezone(tz).isoformat()
                if a.nurture_until
                else None,
                "next": step_json(item.plan.next, tz) if item.plan.next else None,
            }
        )
    return {
        "as_of": now.astimezone(tz_now).isoformat() if tz_now else now.isoformat(),
        "deals": out,
    }


def end_of_day(now: datetime, tz: Any) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
