"""The Reports page and `GET /api/reports`: the same numbers (services/reports.py), as
tables with bars for people and as JSON for scripts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from unghost.services import reports
from unghost.web.api import ERRORS
from unghost.web.auth import signed_in
from unghost.web.context import Viewer, web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
Signed = Annotated[Viewer, Depends(signed_in)]


class StateCount(BaseModel):
    state: str
    deals: int


class ReasonCount(BaseModel):
    reason: str
    deals: int


class StatusCount(BaseModel):
    status: str
    steps: int


class DealsReport(BaseModel):
    open: int
    by_state: list[StateCount]
    by_reason: list[ReasonCount]


class StepsReport(BaseModel):
    since: str
    by_status: list[StatusCount]


class PlayReport(BaseModel):
    play: str
    sent: int
    answered: int
    waiting: int
    rate: float | None


class Totals(BaseModel):
    sent: int
    answered: int
    rate: float | None


class ReportOut(BaseModel):
    as_of: str
    deals: DealsReport
    steps: StepsReport
    plays: list[PlayReport]
    totals: Totals


def _report(request: Request, viewer: Viewer) -> dict[str, Any]:
    app = web(request)
    app.replan_stale(viewer.owners)
    with app.read() as s:
        return reports.report(s, viewer.owners, app.now())


@router.get("/reports")
def reports_page(request: Request, viewer: Signed) -> Response:
    data = _report(request, viewer)
    context = {
        "report": data,
        "step_total": sum(r["steps"] for r in data["steps"]["by_status"]),
        "silent": next(
            (r["deals"] for r in data["deals"]["by_state"] if r["state"] == "silent"), 0
        ),
        "window_days": reports.ANSWER_WINDOW.days,
        "step_days": reports.STEP_WINDOW.days,
    }
    return render(request, "reports.html", context, page="reports")


@api.get("/reports", response_model=ReportOut)
def api_reports(request: Request, viewer: Signed) -> dict[str, Any]:
    """Open deals by state and silence reason, steps by status, and what each play achieved
    (`answered`: contact from the prospect within 14 days of the send; `rate` = answered /
    sent; `waiting`: sends younger than 14 days not answered yet)."""
    return _report(request, viewer)
