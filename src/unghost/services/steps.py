"""Acting on one planned step by its id (the web app's Today): approve and send, snooze,
skip or mark done. Every function is scoped to `owners`: a step of another owner's deal is
`NotFound`, exactly like a step that does not exist."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from unghost.domain.calendar import zone
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput, Conflict, NotFound
from unghost.services import checks
from unghost.services import plan as planning
from unghost.services.agenda import finish_step
from unghost.store import models as m

MAX_SNOOZE = timedelta(days=365)


def open_step(session: Session, owners: list[int], step_id: int) -> tuple[m.Step, m.Deal]:
    """The step and its deal, if the step is open and one of these owners' deals."""
    found = session.execute(
        select(m.Step, m.Deal)
        .join(m.Deal, m.Deal.id == m.Step.deal_id)
        .where(m.Step.id == step_id, m.Deal.owner_id.in_(owners))
    ).first()
    if found is None:
        raise NotFound(f"no step {step_id}")
    step, deal = found
    if step.status not in planning.OPEN:
        raise Conflict(f"the step is already {step.status}")
    return step, deal


def approve(
    session: Session,
    owners: list[int],
    step_id: int,
    now: datetime,
    *,
    subject: str | None = None,
    body: str | None = None,
    send_now: bool = False,
) -> m.Step:
    """Keep the seller's words for the step (it is no longer redrafted); with `send_now`,
    an email step becomes due at once, for the sender to take."""
    step, _ = open_step(session, owners, step_id)
    if subject is not None:
        step.subject = checks.one_line(subject, "subject", max_len=300, required=True)
    if body is not None:
        step.body = checks.text(body, "body", max_len=20_000, required=True)
    if send_now:
        if step.channel != "email":
            raise BadInput(f"only email steps are sent from here; this one is {step.channel}")
        step.due = min(step.due, now)
    step.status = "approved"
    session.flush()
    return step


def snooze(
    session: Session, owners: list[int], step_id: int, until: datetime, now: datetime
) -> m.Step:
    """Move the step's due time later; the step keeps its words until then."""
    step, _ = open_step(session, owners, step_id)
    if until.tzinfo is None:
        raise BadInput("until: needs a time zone")
    if until <= now:
        raise BadInput("until: must be later than now")
    if until - now > MAX_SNOOZE:
        raise BadInput("until: at most a year ahead")
    step.due = until
    step.status = "approved"
    session.flush()
    return step


def finish(
    session: Session,
    owners: list[int],
    step_id: int,
    at: datetime,
    *,
    playbook: Playbook,
    skip: bool,
) -> dict[str, Any]:
    """The step was done (its touch recorded) or skipped; the deal is replanned."""
    step, deal = open_step(session, owners, step_id)
    first = session.scalar(
        select(m.Step.id)
        .where(m.Step.deal_id == deal.id, m.Step.status.in_(planning.OPEN))
        .order_by(m.Step.due, m.Step.id)
        .limit(1)
    )
    if first != step.id:
        raise Conflict("the deal has an earlier step to deal with first")
    return finish_step(session, owners, deal.key, at, playbook=playbook, skip=skip)


def snooze_until(choice: str, now: datetime, tz_name: str) -> datetime:
    """A snooze choice of the Today page ("1h", "tomorrow", "3d", "1w") as a time."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    if choice == "1h":
        return now + timedelta(hours=1)
    days = {"tomorrow": 1, "3d": 3, "1w": 7}.get(choice)
    if days is None:
        raise BadInput("until: choose 1h, tomorrow, 3d or 1w")
    day = local.date() + timedelta(days=days)
    return datetime.combine(day, local.time().replace(hour=9, minute=0, second=0), tzinfo=tz)
