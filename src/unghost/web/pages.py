"""The pages people use: Today and its actions. Other pages live in their own modules
(pages_*.py) and are gathered here into one router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from unghost.domain.model import CHANNELS, OUTCOMES
from unghost.errors import BadInput, UnghostError
from unghost.services import agenda, checks, replylog, steps, touches
from unghost.web.auth import safe_next, signed_in
from unghost.web.context import Viewer, web
from unghost.web.render import render
from unghost.web.sending import send_soon

router = APIRouter(include_in_schema=False)
Signed = Annotated[Viewer, Depends(signed_in)]
# Row ids in paths: bounded, so no number overflows the database's integers.
StepId = Annotated[int, Path(ge=1, le=2**62)]
SEND_WAIT = 10.0  # seconds a Send click waits for the message to go
NOTICES = {
    "sent": "Sent: it is on its way.",
    "sending": "Sending: it goes out in a moment.",
    "logged": "Logged.",
    "skipped": "Skipped.",
    "snoozed": "Snoozed.",
    "scheduled": "Scheduled: it goes at the time you chose.",
    "done": "Marked done.",
    "handled": "Marked handled.",
}


@router.get("/")
def home(viewer: Signed) -> Response:
    return RedirectResponse("/today", 303)


# Today shows this many items at a time: an owner with thousands of deals may have
# thousands due, and a page of them is what a person works through before reloading.
TODAY_PAGE = 25


@router.get("/today")
def today_page(
    request: Request,
    viewer: Signed,
    done: str | None = None,
    start: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    context = today_context(request, viewer, notice=done, start=start)
    if start and not context["items"]:  # past the end: the list got shorter
        return RedirectResponse("/today", 303)
    return render(request, "today.html", context, page="today")


def today_context(
    request: Request,
    viewer: Viewer,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    notice: str | None = None,
    start: int = 0,
) -> dict[str, Any]:
    """One page of today's agenda with the people each item names, for the template."""
    app = web(request)
    app.replan_stale(viewer.owners)
    with app.read() as s:
        data = agenda.today(s, viewer.owners, app.now(), playbook=app.playbook, replan="none",
                            limit=TODAY_PAGE, start=start)  # fmt: skip
        people, titles = agenda.named(s, viewer.owners, data["items"])
    return {
        "items": data["items"],
        "total": data["total"],
        "start": start,
        "page_size": TODAY_PAGE,
        "people": people,
        "titles": titles,
        "errors": errors or {},
        "notice": NOTICES.get(notice or ""),
        "channels": CHANNELS,
        "outcomes": OUTCOMES,
    }


def _again(request: Request, viewer: Viewer, key: str, exc: UnghostError) -> Response:
    """Today again, with the error shown next to the item's field it is about."""
    field, _, message = exc.message.partition(": ")
    if not message:
        field, message = "form", exc.message
    errors = {key: {field.lstrip("-"): message}}
    context = today_context(request, viewer, errors=errors)
    return render(request, "today.html", context, status=exc.http_status, page="today")


def _on_step(
    request: Request, viewer: Viewer, step_id: int, action: Callable[[Session], None]
) -> Response | None:
    """Run `action` in one write; a bad input shows Today again with the field's message."""
    try:
        with web(request).db() as s:
            action(s)
    except BadInput as exc:
        return _again(request, viewer, f"step-{step_id}", exc)
    return None


def _then(done: str) -> Response:
    return RedirectResponse(f"/today?done={done}", 303)


@router.post("/steps/{step_id}/send")
def send_step(
    request: Request,
    viewer: Signed,
    step_id: StepId,
    subject: Annotated[str, Form(max_length=400)] = "",
    body: Annotated[str, Form(max_length=40_000)] = "",
) -> Response:
    app = web(request)

    def approve(s: Session) -> None:
        steps.approve(s, viewer.owners, step_id, app.now(), subject=subject, body=body,
                      send_now=True)  # fmt: skip

    failed = _on_step(request, viewer, step_id, approve)
    if failed:
        return failed
    # Wait a little for the pass, so Today shows the truth when it reloads.
    pass_ = send_soon(app)
    pass_.join(SEND_WAIT)
    return _then("sending" if pass_.is_alive() else "sent")


@router.post("/steps/{step_id}/save")
def save_step(
    request: Request,
    viewer: Signed,
    step_id: StepId,
    subject: Annotated[str, Form(max_length=400)] = "",
    body: Annotated[str, Form(max_length=40_000)] = "",
) -> Response:
    now = web(request).now()

    def save(s: Session) -> None:
        steps.approve(s, viewer.owners, step_id, now, subject=subject, body=body)

    return _on_step(request, viewer, step_id, save) or RedirectResponse("/today", 303)


@router.post("/steps/{step_id}/schedule")
def schedule_step(
    request: Request,
    viewer: Signed,
    step_id: StepId,
    subject: Annotated[str, Form(max_length=400)] = "",
    body: Annotated[str, Form(max_length=40_000)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Keep the edited words and send at a chosen time (in the owner's zone)."""
    now = web(request).now()

    def schedule(s: Session) -> None:
        when = checks.moment(at or None, "at", tz=viewer.timezone, required=True)
        assert when is not None
        steps.approve(s, viewer.owners, step_id, now, subject=subject, body=body)
        steps.snooze(s, viewer.owners, step_id, when, now)

    return _on_step(request, viewer, step_id, schedule) or _then("scheduled")


@router.post("/steps/{step_id}/snooze")
def snooze_step(
    request: Request,
    viewer: Signed,
    step_id: StepId,
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    now = web(request).now()

    def snooze(s: Session) -> None:
        steps.snooze(
            s, viewer.owners, step_id, steps.snooze_until(until, now, viewer.timezone), now
        )

    return _on_step(request, viewer, step_id, snooze) or _then("snoozed")


@router.post("/steps/{step_id}/skip")
def skip_step(request: Request, viewer: Signed, step_id: StepId) -> Response:
    return _finish(request, viewer, step_id, skip=True)


@router.post("/steps/{step_id}/done")
def done_step(request: Request, viewer: Signed, step_id: StepId) -> Response:
    return _finish(request, viewer, step_id, skip=False)


def _finish(request: Request, viewer: Viewer, step_id: int, *, skip: bool) -> Response:
    app = web(request)

    def finish(s: Session) -> None:
        steps.finish(s, viewer.owners, step_id, app.now(), playbook=app.playbook, skip=skip)

    return _on_step(request, viewer, step_id, finish) or _then("skipped" if skip else "done")


@router.post("/deals/{deal}/log")
def log_outcome(
    request: Request,
    viewer: Signed,
    deal: str,
    channel: Annotated[str, Form(max_length=20)] = "",
    direction: Annotated[str, Form(max_length=10)] = "out",
    outcome: Annotated[str, Form(max_length=20)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
    back: Annotated[str, Form(max_length=200)] = "/today",
) -> Response:
    app = web(request)
    try:
        with app.db() as s:
            touches.log_touch(
                s,
                viewer.owners,
                deal=deal,
                at=None,
                now=app.now(),
                playbook=app.playbook,
                channel=channel,
                direction=direction,
                outcome=outcome or None,
                body=body or None,
            )
    except BadInput as exc:
        return _again(request, viewer, f"log-{deal}", exc)
    target = safe_next(back)
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}done=logged", 303)


@router.post("/replies/{reply_id}/handled")
def reply_handled(request: Request, viewer: Signed, reply_id: StepId) -> Response:
    app = web(request)
    with app.db() as s:
        replylog.mark_handled(s, viewer.owners, reply_id, app.now())
    return _then("handled")
