"""The planning use case: load deals, decide in the domain, store the steps.

`plan` serves `unghost plan`, `unghost today`, the sender and the web alike: every deal
it returns has its step drafted. `refresh` is the worker's pass over the whole book: it
brings every deal's stored state and next step up to date but leaves the words of a new
step to whoever shows or sends it (a big book's backlog is never read all at once), so a
stored step may be undrafted — its `body` is null — until `plan` or a later `refresh`
with `draft_due_by` drafts it.

Steps are rows: a deal has at most one open step (planned or approved); a new plan that
differs cancels it and adds the new one, and a deal with nothing to do (active, paused,
won…) has its open step cancelled — which is how contact from the prospect cancels every
step not yet done. Drafting an undrafted step fills it in place when the move is the same
(play, channel, people and due time; its variant may change, since only drafting checks
a variant against what the recipient already received).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from unghost.domain import model as d
from unghost.domain.calendar import zone
from unghost.domain.planner import Plan, Step, plan_deal, replan_at
from unghost.domain.playbook import Playbook, load_playbook
from unghost.domain.silence import Assessment
from unghost.services import freshness, worlds
from unghost.services.parallel import bulk, spread
from unghost.services.worlds import load_worlds as load_worlds
from unghost.store import models as m
from unghost.store.bulk import insert_rows

OPEN = ("planned", "approved")
STEP_COLUMNS = (
    "deal_id", "play", "variant", "channel", "to", "cc", "due", "subject", "body", "script",
    "why", "warnings", "content_key", "times", "dial", "status", "planned_at",
)  # fmt: skip
MANY = 500  # from this many deals, one pass over the whole scope beats a long IN list
LEAD = 0.45  # this process's share of a plan split over two: it also stores every share


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
    holds) and drafted is read back; the others are planned, drafted and stored.
    """
    named = deals is not None or deal_ids is not None
    scope = _scope(owners, deals, deal_ids)
    with bulk():
        heads = _heads(session, scope, now, stored=True)
        if not heads:
            return []
        inputs, digest, stale = _stale(session, owners, playbook, heads, scope, named)
        steps = _open_steps(session, scope, [h.id for h in heads])
        # A step `refresh` left undrafted is drafted now: the caller shows it.
        redo = stale | {s.deal_id for s in steps if s.body is None}
        decided = _update(session, owners, now, playbook, redo, inputs, digest, steps,
                          draft=True, named=named, ids=True)  # fmt: skip
        users = worlds.owners_of(session, owners)
        stored = {s.deal_id: s for s in steps if s.deal_id not in redo}
        out = []
        for h in heads:
            if h.id in decided:
                (_, values, _, kept), step_id = decided[h.id]
                state, doc, step = kept[0], orjson.loads(kept[1]), _step(values)
            else:
                row = stored.get(h.id)
                state, doc = h.state, h.assessment
                step, step_id = (step_from_row(row), row.id) if row is not None else (None, None)
            p = Plan(h.key, doc["contact"], _assessment(state, doc), step)
            out.append(Planned(p, users[h.owner_id], h.id, step_id))
    return out


def refresh(
    session: Session,
    owners: Sequence[int],
    now: datetime,
    *,
    playbook: Playbook,
    draft_due_by: datetime | None = None,
) -> int:
    """Bring the stored plan of every open deal of these owners up to date at `now`.

    New steps are stored undrafted unless due before `draft_due_by` (or replacing a
    drafted step, whose words must not go stale); steps already stored undrafted and due
    before `draft_due_by` are drafted. Returns how many deals were planned again.
    """
    scope = _scope(owners, None, None)
    with bulk():
        heads = _heads(session, scope, now, stored=False)
        if not heads:
            return 0
        inputs, digest, stale = _stale(session, owners, playbook, heads, scope, False)
        redo = set(stale)
        if draft_due_by is not None:
            table = m.Step.__table__
            due = session.execute(
                select(table.c.deal_id)
                .join(m.Deal, m.Deal.id == table.c.deal_id)
                .where(scope, table.c.status.in_(OPEN), table.c.due < draft_due_by)
                .where(table.c.body.is_(None))
            )
            redo |= {r.deal_id for r in due}
        if not redo:
            return 0
        steps = _open_steps(session, scope, sorted(redo))
        _update(session, owners, now, playbook, redo, inputs, digest, steps, draft=False,
                draft_due_by=draft_due_by)  # fmt: skip
    return len(redo)


def _scope(
    owners: Sequence[int], deals: Sequence[str] | None, deal_ids: Sequence[int] | None
) -> ColumnElement[bool]:
    if deals is not None:
        return and_(m.Deal.owner_id.in_(owners), m.Deal.key.in_(deals))
    if deal_ids is not None:
        return and_(m.Deal.owner_id.in_(owners), m.Deal.id.in_(deal_ids))
    return and_(m.Deal.owner_id.in_(owners), m.Deal.stage == "open")


def _heads(
    session: Session, scope: ColumnElement[bool], now: datetime, *, stored: bool
) -> list[Row[Any]]:
    """The deals in scope by key, each with its plan's digest and whether `now` is within
    the time it holds (and, when `stored`, the state and assessment it holds)."""
    D = m.Deal
    timely = and_(
        D.planned_at.is_not(None),
        D.planned_at <= now,
        (D.replan_at.is_(None)) | (D.replan_at > now),
    )
    cols: list[Any] = [D.id, D.key, D.owner_id, D.plan_digest, timely.label("timely")]
    if stored:
        cols += [D.state, D.assessment]
    return list(session.connection().execute(select(*cols).where(scope).order_by(D.key)).all())


def _stale(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    heads: Sequence[Row[Any]],
    scope: ColumnElement[bool],
    named: bool,
) -> tuple[freshness.Inputs, dict[int, str], set[int]]:
    """What the digests are made of; the digest of each deal whose stored plan holds in
    time; and the deals to plan again: those, if their inputs changed, and every other."""
    inputs = freshness.gather(session, owners, playbook, scope=scope, named=named)
    timely = [h.id for h in heads if h.timely and h.plan_digest]

    def work(share: Sequence[int]) -> list[tuple[int, str]]:
        return [(deal_id, freshness.digest(inputs, deal_id)) for deal_id in share]

    digest = dict(spread(work, timely))
    stale = {h.id for h in heads if h.id not in digest or h.plan_digest != digest[h.id]}
    return inputs, digest, stale


def _open_steps(session: Session, scope: ColumnElement[bool], ids: Sequence[int]) -> list[Row[Any]]:
    """The open steps of these deals (all in `scope`)."""
    table = m.Step.__table__
    if len(ids) >= MANY:
        query = select(table).join(m.Deal, m.Deal.id == table.c.deal_id)
        wanted = set(ids)
        return [
            s
            for s in session.connection()
            .execute(query.where(scope, table.c.status.in_(OPEN)))
            .all()
            if s.deal_id in wanted
        ]
    out = []
    for chunk in _chunks(ids):
        # Filter the status here, not in SQL: with it there, SQLite may pick the
        # (status, due) index and scan every open step once per chunk.
        out += [
            s
            for s in session.connection()
            .execute(select(table).where(table.c.deal_id.in_(chunk)))
            .all()
            if s.status in OPEN
        ]
    return out


# -- deciding ------------------------------------------------------------------------


# One deal's new plan as it crosses processes (plain tuples pickle fastest): the step's
# values in STEP_COLUMNS[1:15] order, and the rows to insert and update, ready for the driver.
_Decided = tuple[int, tuple[Any, ...] | None, tuple[Any, ...] | None, tuple[Any, ...]]


def _update(
    session: Session,
    owners: Sequence[int],
    now: datetime,
    playbook: Playbook,
    redo: set[int],
    inputs: freshness.Inputs,
    digest: dict[int, str],
    steps: Sequence[Row[Any]],
    *,
    draft: bool,
    draft_due_by: datetime | None = None,
    named: bool = False,
    ids: bool = False,
) -> dict[int, tuple[_Decided, int | None]]:
    """Plan the `redo` deals again and store their steps; deal id → (plan, step id)."""
    if not redo:
        return {}
    todo = sorted(redo)
    drafted = {s.deal_id for s in steps if s.body is not None}
    rows = worlds.fetch(session, owners, playbook, inputs, todo,
                        named=named or len(todo) < MANY,
                        bodies=draft or bool(drafted) or draft_due_by is not None)  # fmt: skip
    store = _Storing(session.connection().dialect.name, now)

    def work(share: Sequence[int]) -> list[_Decided]:
        out = []
        for deal_id, _, world in worlds.worlds(rows, share):
            p = plan_deal(world, now, draft=draft or deal_id in drafted)
            step = p.next
            if step is not None and not step.drafted and draft_due_by and step.due < draft_due_by:
                p = plan_deal(world, now)
            found = digest.get(deal_id) or freshness.digest(inputs, deal_id)
            out.append(store.decided(deal_id, p, replan_at(world, p, now), found))
        return out

    step_ids: dict[int, int] = {}

    def keep(share: list[_Decided]) -> None:  # here, while the other share is still planned
        step_ids.update(_store(session, share, steps, now, ids=ids))
        _remember(session, share)

    decided = spread(work, todo, then=keep, lead=LEAD)
    return {dec[0]: (dec, step_ids.get(dec[0])) for dec in decided}


class _Storing:
    """A plan as the driver stores it: times in the backend's form, JSON as text."""

    def __init__(self, dialect: str, now: datetime) -> None:
        self.sqlite = dialect == "sqlite"
        self.now = self.time(now)

    def time(self, value: datetime) -> Any:
        """What `UTCDateTime` stores: naive UTC, as text on SQLite."""
        utc = value.astimezone(UTC)
        if self.sqlite:  # SQLAlchemy's own text form, so comparisons in SQL stay right
            return utc.isoformat(" ", "microseconds")[:26]
        return utc.replace(tzinfo=None)

    def decided(self, deal_id: int, p: Plan, until: datetime | None, digest: str) -> _Decided:
        a, s = p.assessment, p.next
        subject: str | None
        body: str | None
        doc = {
            "reasons": list(a.reasons),
            "silent_since": _iso(a.silent_since),
            "paused_until": _iso(a.paused_until),
            "nurture_until": _iso(a.nurture_until),
            "last_inbound": _iso(a.last_inbound),
            "unanswered": a.unanswered,
            "facts": list(a.facts),
            "contact": p.contact,
        }
        remembered = (a.state, _json(doc), digest, self.now,
                      self.time(until) if until else None, deal_id)  # fmt: skip
        if s is None:
            return deal_id, None, None, remembered
        subject, body, script, warnings = (s.subject, s.body, s.script, list(s.warnings))
        if not s.drafted:  # stored undrafted: a null body says so
            subject, body, script, warnings = None, None, None, []
        to, cc, times = list(s.to), list(s.cc), list(s.times)
        values = (s.play, s.variant, s.channel, to, cc, s.due, subject, body, script, s.why,
                  warnings, s.content, times, s.dial)  # fmt: skip
        row = (deal_id, s.play, s.variant, s.channel, _json(to), _json(cc), self.time(s.due),
               subject, body, script, s.why, _json(warnings), s.content, _json(times), s.dial,
               "planned", self.now)  # fmt: skip
        return deal_id, values, row, remembered


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()  # as the engine writes JSON columns (store/db.py)


def _assessment(state: str | None, doc: dict[str, Any]) -> Assessment:
    return Assessment(
        state=state,  # type: ignore[arg-type]
        reasons=tuple(doc["reasons"]),
        silent_since=_time(doc["silent_since"]),
        paused_until=_time(doc["paused_until"]),
        nurture_until=_time(doc["nurture_until"]),
        last_inbound=_time(doc["last_inbound"]),
        unanswered=doc["unanswered"],
        facts=tuple(doc["facts"]),
    )


def _step(values: tuple[Any, ...] | None) -> Step | None:
    if values is None:
        return None
    play, variant, channel, to, cc, due, subject, body, script, why, warnings = values[:11]
    content, times, dial = values[11:]
    return Step(
        play=play,
        variant=variant,
        channel=channel,
        to=tuple(to),
        cc=tuple(cc),
        due=due,
        subject=subject or "",
        body=body or "",
        why=why,
        script=script,
        warnings=tuple(warnings),
        content=content,
        dial=dial,
        times=tuple(times),
        drafted=body is not None,
    )


def step_from_row(s: Any) -> Step:
    """The domain step a stored step row holds (`drafted` False while its body is null)."""
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
        drafted=s.body is not None,
    )


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _time(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


# -- storing ------------------------------------------------------------------------


def _store(
    session: Session,
    decided: Sequence[_Decided],
    steps: Sequence[Row[Any]],
    now: datetime,
    *,
    ids: bool,
) -> dict[int, int]:
    """Keep each deal's open step in line with its plan; deal id → open step id if `ids`."""
    old: dict[int, list[Row[Any]]] = {}
    for s in steps:
        old.setdefault(s.deal_id, []).append(s)
    cancel: list[int] = []
    fill: list[dict[str, Any]] = []
    new: list[tuple[Any, ...]] = []
    kept: dict[int, int] = {}
    for deal_id, values, row, _ in decided:
        keep = None
        for s in old.get(deal_id, ()):
            if keep is None and values is not None and _same(s, values):
                keep = s
            else:
                cancel.append(s.id)
        if values is None or row is None:
            continue
        if keep is None:
            new.append(row)
            continue
        kept[deal_id] = keep.id
        if keep.body is None and (keep.variant != values[1] or values[7] is not None):
            fill.append(_filling(keep.id, values))  # drafted now, or its variant changed
    for chunk in _chunks(cancel):
        session.execute(
            update(m.Step)
            .where(m.Step.id.in_(chunk))
            .values(status="cancelled", done_at=now)
            .execution_options(synchronize_session=False)
        )
    if fill:
        table = m.Step.__table__
        assert isinstance(table, Table)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values(
                {
                    name: bindparam(f"_{name}", type_=table.c[name].type)
                    for name in _FILLED
                    if name not in ("subject", "body")
                }
                | {  # words the seller approved stay theirs
                    "subject": func.coalesce(table.c.subject, bindparam("_subject")),
                    "body": func.coalesce(table.c.body, bindparam("_body")),
                }
            ),
            fill,
        )
    if new:
        insert_rows(session, m.Step.__table__, STEP_COLUMNS, new, converted=True)
        if ids:
            for chunk in _chunks([row[0] for row in new]):
                for r in session.execute(
                    select(m.Step.deal_id, m.Step.id).where(
                        m.Step.deal_id.in_(chunk), m.Step.status == "planned"
                    )
                ):
                    kept[r.deal_id] = r.id
    return kept


_FILLED = ("variant", "subject", "body", "script", "why", "warnings", "content_key", "times",
           "dial")  # fmt: skip


def _filling(step_id: int, values: tuple[Any, ...]) -> dict[str, Any]:
    named = dict(zip(STEP_COLUMNS[1:15], values, strict=True))
    return {"_id": step_id} | {f"_{name}": named[name] for name in _FILLED}


def _same(old: Row[Any], new: tuple[Any, ...]) -> bool:
    """An open step still right for the plan (see the module's docstring)."""
    play, variant, channel, to, cc, due, subject, body = new[:8]
    if old.play != play or old.channel != channel or list(old.to) != to:
        return False
    if old.status == "approved":  # an approved (edited) draft keeps its words
        return True
    if old.body is None:  # undrafted: the same move, whatever the variant
        return bool(list(old.cc) == cc and old.due == due)
    return bool(
        old.variant == variant
        and old.due == due
        and old.subject == subject
        and old.body == body
        and list(old.cc) == cc
    )


def _remember(session: Session, decided: Sequence[_Decided]) -> None:
    """Store each deal's assessment, the digest it was made from, and until when it holds."""
    if not decided:
        return
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"UPDATE deals SET state = {mark}, assessment = {mark}, plan_digest = {mark}, "
        f"planned_at = {mark}, replan_at = {mark} WHERE id = {mark}",
        [dec[3] for dec in decided],
    )


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
