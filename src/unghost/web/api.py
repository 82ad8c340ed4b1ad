"""The JSON API under /api/ (CONTRACT.md): token auth, one error shape, an OpenAPI document.

Each route mirrors a page and calls the same library function. Every answer that is not
2xx is `{"error": "…", "status": N}` (see app.py); the shapes below are what the OpenAPI
document promises and what schemathesis checks in the test suite.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from unghost.domain.model import CHANNELS, OUTCOMES, REASONS, STATES
from unghost.services import agenda, browse, steps, touches
from unghost.web.auth import signed_in
from unghost.web.context import Viewer, web
from unghost.web.sending import send_soon


class ErrorOut(BaseModel):
    error: str
    status: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "bad input"),
        (401, "no valid token or session"),
        (403, "not allowed"),
        (404, "not found (or another owner's)"),
        (409, "clashes with stored state"),
        (422, "a parameter is not valid"),
    )
}

router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
Signed = Annotated[Viewer, Depends(signed_in)]
Key = Annotated[str, Path(min_length=1, max_length=200)]
StepId = Annotated[int, Path(ge=1, le=2**62)]

# Times are text, as the schema says: pydantic alone would also take a number of seconds
# since 1970, or a bare date, for a `datetime`.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be a time with its offset, like 2026-11-23T09:00:00-05:00")
    return value


# A time with its offset (RFC 3339 `date-time`).
Moment = Annotated[datetime, BeforeValidator(_rfc3339)]
# A time that may leave out its offset, then read in the owner's zone (as `unghost log --at`).
LOCAL_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class StepOut(BaseModel):
    play: str
    variant: str | None
    channel: str
    to: list[str]
    cc: list[str]
    due: str
    subject: str
    body: str
    why: str
    warnings: list[str]
    script: str | None = None
    dial: str | None = None
    times: list[Any] = []
    content: str | None = None


class TodayItem(Loose):
    kind: Literal["reply", "step", "question"]
    deal: str
    contact: str


class TodayOut(BaseModel):
    as_of: str
    items: list[TodayItem]
    total: int
    next_cursor: str | None


class NextOut(BaseModel):
    play: str
    channel: str
    due: str


class DealRow(BaseModel):
    deal: str
    title: str
    contact: str
    contact_name: str
    company: str | None
    stage: str
    state: str | None
    reasons: list[str]
    next: NextOut | None


class DealsOut(BaseModel):
    deals: list[DealRow]
    next_cursor: str | None


class CadenceStep(BaseModel):
    play: str
    variant: str | None
    channel: str
    to: list[str]
    due: str
    subject: str | None


class DealOut(Loose):
    deal: str
    title: str
    stage: str
    state: str | None
    events: list[dict[str, Any]]
    cadence: list[CadenceStep]


class TouchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    direction: Literal["out", "in"] = "out"
    outcome: Literal[OUTCOMES] | None = None  # type: ignore[valid-type]
    # Without an offset, in the owner's time zone.
    at: Annotated[str | None, Field(max_length=40, pattern=LOCAL_TIME)] = None
    subject: Annotated[str | None, Field(max_length=1000)] = None
    body: Annotated[str | None, Field(max_length=100_000)] = None


class TouchOut(BaseModel):
    deal: str
    at: str | None
    channel: str | None
    direction: str | None
    outcome: str | None


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    body: Annotated[str | None, Field(min_length=1, max_length=20_000)] = None
    send: bool = False
    # Send at this time instead of the planned one (not with `send`).
    at: Moment | None = None


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: Moment


class StepStatusOut(BaseModel):
    id: int
    status: str
    due: str
    subject: str | None
    body: str | None


class FinishOut(Loose):
    deal: str
    state: str


@router.get("/today", response_model=TodayOut)
def api_today(
    request: Request,
    viewer: Signed,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=8, pattern=r"^[0-9]+$")] = None,
) -> dict[str, Any]:
    """What is due today, in order: the object of `unghost today --json`. With `limit`,
    that many items at a time: `total` counts them all; pass `next_cursor` back as `cursor`
    for the next page."""
    app = web(request)
    start = int(cursor or 0)
    app.replan_stale(viewer.owners)
    with app.read() as s:
        out = agenda.today(s, viewer.owners, app.now(), playbook=app.playbook, replan="none",
                           limit=limit if limit is not None else 10**9, start=start)  # fmt: skip
    more = limit is not None and start + len(out["items"]) < out["total"]
    out["next_cursor"] = str(start + limit) if more and limit is not None else None
    return out


@router.get("/deals", response_model=DealsOut)
def api_deals(
    request: Request,
    viewer: Signed,
    state: Annotated[Literal[STATES] | None, Query()] = None,  # type: ignore[valid-type]
    reason: Annotated[Literal[REASONS] | None, Query()] = None,  # type: ignore[valid-type]
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """One page of deals, by id; pass `next_cursor` back as `cursor` for the next."""
    app = web(request)
    with app.db() as s:
        deals, nxt = browse.deals_page(
            s, viewer.owners, state=state, reason=reason, search=q, cursor=cursor
        )
    return {"deals": deals, "next_cursor": nxt}


@router.get("/deals/{deal}", response_model=DealOut)
def api_deal(request: Request, viewer: Signed, deal: Key) -> dict[str, Any]:
    """One deal: its fields, timeline and the cadence planned if no reply comes."""
    app = web(request)
    with app.db() as s:
        out = browse.deal_timeline(s, viewer.owners, deal)
        out["cadence"] = agenda.cadence(s, viewer.owners, deal, app.now(), playbook=app.playbook)[
            "steps"
        ]
    return out


@router.post("/deals/{deal}/touches", response_model=TouchOut, status_code=201)
def api_log(request: Request, viewer: Signed, deal: Key, touch: TouchIn) -> dict[str, Any]:
    """Record a touch (`unghost log`); the deal is replanned."""
    app = web(request)
    with app.db() as s:
        return touches.log_touch(
            s,
            viewer.owners,
            deal=deal,
            at=touch.at,
            now=app.now(),
            playbook=app.playbook,
            channel=touch.channel,
            direction=touch.direction,
            outcome=touch.outcome,
            subject=touch.subject,
            body=touch.body,
        )


@router.post("/steps/{step_id}/approve", response_model=StepStatusOut)
def api_approve(
    request: Request, viewer: Signed, step_id: StepId, change: ApproveIn
) -> dict[str, Any]:
    """Keep these words for the step; with `send`, send the email now; with `at`, then."""
    app = web(request)
    with app.db() as s:
        step = steps.approve(s, viewer.owners, step_id, app.now(), subject=change.subject,
                             body=change.body, send_now=change.send)  # fmt: skip
        if change.at is not None and not change.send:
            step = steps.snooze(s, viewer.owners, step_id, change.at, app.now())
        out = _status(step)
    if change.send:
        send_soon(app)
    return out


@router.post("/steps/{step_id}/snooze", response_model=StepStatusOut)
def api_snooze(
    request: Request, viewer: Signed, step_id: StepId, change: SnoozeIn
) -> dict[str, Any]:
    """Move the step later."""
    app = web(request)
    with app.db() as s:
        return _status(steps.snooze(s, viewer.owners, step_id, change.until, app.now()))


@router.post("/steps/{step_id}/skip", response_model=FinishOut)
def api_skip(request: Request, viewer: Signed, step_id: StepId) -> dict[str, Any]:
    """Skip the step; the deal is replanned."""
    app = web(request)
    with app.db() as s:
        return steps.finish(s, viewer.owners, step_id, app.now(), playbook=app.playbook, skip=True)


@router.post("/steps/{step_id}/done", response_model=FinishOut)
def api_done(request: Request, viewer: Signed, step_id: StepId) -> dict[str, Any]:
    """The step was done by hand (its touch is recorded); the deal is replanned."""
    app = web(request)
    with app.db() as s:
        return steps.finish(s, viewer.owners, step_id, app.now(), playbook=app.playbook, skip=False)


def _status(step: Any) -> dict[str, Any]:
    return {
        "id": step.id,
        "status": step.status,
        "due": step.due.isoformat(),
        "subject": step.subject,
        "body": step.body,
    }
