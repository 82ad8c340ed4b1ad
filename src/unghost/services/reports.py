"""What the seller's book looks like and what each play achieved: the *Reports* page.

Until the learning issue lands, a report is counts: open deals by state and by silence
reason, steps by status, and per play how many sends got contact from the prospect within
`ANSWER_WINDOW` (CONTRACT's `report`: `answered` is contact from the prospect within 14
days of the step; `rate` = answered / sent). Every number is one grouped query, so the
report costs the same few queries for one deal or a million.

A *send* of a play is an outbound touch carrying the play; the touches one step leaves on
one day (the voicemail and the email of `voicemail-then-email`) count once. Imported
history counts like steps sent from unghost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import ColumnElement, and_, case, cast, exists, func, not_, or_, select
from sqlalchemy import String as SqlString
from sqlalchemy.orm import Session, aliased

from unghost.domain.calendar import zone
from unghost.domain.model import REASONS, STATES, StepStatus
from unghost.services import plan as planning
from unghost.store import models as m

ANSWER_WINDOW = timedelta(days=14)
STEP_WINDOW = timedelta(days=30)
STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)
# A deal whose plan was never made has no state yet.
UNPLANNED = "unplanned"


def report(
    session: Session,
    owners: list[int],
    now: datetime,
) -> dict[str, Any]:
    """The report of these owners' deals at `now`, from their stored plans (the caller
    replans stale deals first, as the web app's `replan_stale` does)."""
    tz_name = session.scalar(select(m.User.timezone).where(m.User.id.in_(owners)).limit(1))
    by_state = _by_state(session, owners)
    plays = _plays(session, owners, now)
    sent = sum(p["sent"] for p in plays)
    answered = sum(p["answered"] for p in plays)
    return {
        "as_of": now.astimezone(zone(tz_name or "UTC")).isoformat(),
        "deals": {
            "open": sum(r["deals"] for r in by_state),
            "by_state": by_state,
            "by_reason": _by_reason(session, owners),
        },
        "steps": {
            "since": (now - STEP_WINDOW).astimezone(zone(tz_name or "UTC")).isoformat(),
            "by_status": _by_status(session, owners, now - STEP_WINDOW),
        },
        "plays": plays,
        "totals": {"sent": sent, "answered": answered, "rate": _rate(answered, sent)},
    }


def _by_state(session: Session, owners: list[int]) -> list[dict[str, Any]]:
    """Open deals per state: every state an open deal can be in, zeros included."""
    counts: dict[str | None, int] = {
        state: n
        for state, n in session.execute(
            select(m.Deal.state, func.count())
            .where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open")
            .group_by(m.Deal.state)
        )
    }
    out: list[dict[str, Any]] = [
        {"state": s, "deals": counts.get(s, 0)}
        for s in STATES
        if s not in ("won", "lost") or counts.get(s)
    ]
    if counts.get(None):
        out.append({"state": UNPLANNED, "deals": counts[None]})
    return out


def _by_reason(session: Session, owners: list[int]) -> list[dict[str, Any]]:
    """Silent open deals per silence reason (a deal with two reasons counts under both)."""
    # The reasons are stored in the assessment's JSON as quoted words of their own
    # (the same test the Deals page filters with).
    text = cast(m.Deal.assessment, SqlString)
    row = session.execute(
        select(
            *(
                func.coalesce(func.sum(case((text.like(f'%"{r}"%'), 1), else_=0)), 0)
                for r in REASONS
            )
        ).where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open", m.Deal.state == "silent")
    ).one()
    return [{"reason": r, "deals": int(n)} for r, n in zip(REASONS, row, strict=True)]


def _by_status(session: Session, owners: list[int], since: datetime) -> list[dict[str, Any]]:
    """Steps open now, and steps finished (sent, done, skipped…) since `since`, per status."""
    counts = dict(
        session.execute(
            select(m.Step.status, func.count())
            .join(m.Deal, m.Deal.id == m.Step.deal_id)
            .where(
                m.Deal.owner_id.in_(owners),
                or_(m.Step.status.in_(planning.OPEN), m.Step.done_at >= since),
            )
            .group_by(m.Step.status)
        ).all()
    )
    return [{"status": s, "steps": int(counts.get(s, 0))} for s in STEP_STATUSES]


def _plays(session: Session, owners: list[int], now: datetime) -> list[dict[str, Any]]:
    """Per play: sends, sends answered within the window, and sends still inside it unanswered."""
    t = m.Touch
    sends = (
        select(t.deal_id, t.play, func.min(t.at).label("at"))
        .join(m.Deal, m.Deal.id == t.deal_id)
        .where(m.Deal.owner_id.in_(owners), t.direction == "out", t.play.is_not(None))
        .group_by(t.deal_id, t.play, func.date(t.at))
        .subquery()
    )
    reply = aliased(m.Touch)
    answered = exists().where(
        reply.deal_id == sends.c.deal_id,
        from_prospect(reply),
        reply.at >= sends.c.at,
        _within(session, reply.at, sends.c.at, ANSWER_WINDOW),
    )
    waiting = and_(sends.c.at > now - ANSWER_WINDOW, not_(answered))
    rows = session.execute(
        select(
            sends.c.play,
            func.count(),
            func.sum(case((answered, 1), else_=0)),
            func.sum(case((waiting, 1), else_=0)),
        ).group_by(sends.c.play)
    ).all()
    out = [
        {
            "play": play,
            "sent": int(sent),
            "answered": int(yes or 0),
            "waiting": int(open_ or 0),
            "rate": _rate(int(yes or 0), int(sent)),
        }
        for play, sent, yes, open_ in rows
    ]
    out.sort(key=lambda p: (-p["sent"], p["play"]))
    return out


def from_prospect(t: Any) -> ColumnElement[bool]:
    """CONTRACT's "contact from the prospect" as SQL, for the touch table (or an alias)."""
    return or_(
        t.outcome.in_(("connected", "held")),
        and_(
            t.direction == "in",
            or_(t.outcome.is_(None), t.outcome.not_in(("bounced", "auto_reply"))),
        ),
    )


def _within(session: Session, later: Any, earlier: Any, span: timedelta) -> ColumnElement[bool]:
    """`later - earlier <= span`, in the database's own date arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier) <= span.total_seconds() / 86_400
    return later - earlier <= span  # type: ignore[no-any-return]


def _rate(answered: int, sent: int) -> float | None:
    return round(answered / sent, 3) if sent else None
