"""The Deals list, one Deal's page (timeline, cadence, editing), and their JSON API routes.

The list is keyset-paginated (services/browse.deals_page) with the counts by state from one
grouped query, so its cost does not grow with the number of deals. Editing goes through
services/edits, which the API's PATCH routes share.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from unghost.domain.model import CHANNELS, OUTCOMES, REASONS, STAGES, STATES, URGENCIES
from unghost.errors import BadInput, NotFound
from unghost.services import agenda, browse, checks, edits
from unghost.services import plan as planning
from unghost.store import models as m
from unghost.web.api import ERRORS, Key, NextOut
from unghost.web.auth import signed_in
from unghost.web.context import Viewer, web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
Signed = Annotated[Viewer, Depends(signed_in)]

STATE_LABELS = {
    "silent": "Silent",
    "active": "Active",
    "paused": "Paused",
    "nurture": "Nurture",
    "won": "Won",
    "lost": "Lost",
    "do_not_contact": "Do not contact",
    "unplanned": "Not planned yet",
}
REASON_LABELS = {
    "missed_meeting": "Missed meeting",
    "promise_passed": "Promise passed",
    "proposal_unanswered": "Proposal unanswered",
    "unanswered_touches": "Unanswered touches",
    "no_inbound": "Nothing back in weeks",
}
NOTICES = {
    "deal": "Deal saved and replanned.",
    "contact": "Contact saved; their deals are replanned.",
    "logged": "Logged; the deal is replanned.",
}
PAGE_SIZES = (25, 50, 100)
ZONES = sorted(checks.known_timezones())
ZONE_NAME = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"


def _href(key: str) -> str:
    return "/deals/" + quote(key, safe="")


def _money(amount: str | None) -> str:
    """36000.00 → 36,000; 1234.5 → 1,234.50."""
    if not amount:
        return ""
    value = Decimal(amount)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


# -- Deals ---------------------------------------------------------------------------------


@router.get("/deals")
def deals_page(
    request: Request,
    viewer: Signed,
    state: Annotated[str, Query(max_length=40)] = "",
    reason: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
    size: Annotated[int, Query(ge=1, le=200)] = browse.PAGE_SIZE,
) -> Response:
    app = web(request)
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    next_cursor = None
    app.replan_stale(viewer.owners)
    with app.read() as s:
        counts = browse.deal_counts(s, viewer.owners)
        try:
            rows, next_cursor = browse.deals_page(
                s, viewer.owners, state=state or None, reason=reason or None,
                search=q or None, cursor=cursor or None, limit=size,
            )  # fmt: skip
        except BadInput as exc:
            field, _, message = exc.message.partition(": ")
            errors[field if message else "form"] = message or exc.message
    now = app.now()
    for row in rows:
        due = row["next"]["due"] if row["next"] else None
        row["overdue"] = due is not None and datetime.fromisoformat(due) < now
    filters = {"state": state, "reason": reason, "q": q, "size": size}

    def link(**change: Any) -> str:
        given = {**filters, **change}
        if given.get("size") == browse.PAGE_SIZE:
            given.pop("size")
        return "/deals" + (
            "?" + urlencode({k: v for k, v in given.items() if v}) if any(given.values()) else ""
        )

    context = {
        "rows": rows,
        "counts": counts,
        "filters": filters,
        "errors": errors,
        "states": [s for s in (*STATES, "unplanned") if counts["states"].get(s)],
        "all_states": STATES,
        "reasons": REASONS,
        "state_labels": STATE_LABELS,
        "reason_labels": REASON_LABELS,
        "sizes": sorted({*PAGE_SIZES, size}),
        "link": link,
        "href": _href,
        "next_url": link(cursor=next_cursor) if next_cursor else None,
        "first_url": link(cursor="") if cursor else None,
        "filtered": bool(state or reason or q),
    }
    return render(request, "deals.html", context, status=400 if errors else 200, page="deals")


# -- One deal ------------------------------------------------------------------------------


@router.get("/deals/{deal}")
def deal_page(request: Request, viewer: Signed, deal: Key, done: str | None = None) -> Response:
    return render(
        request, "deal.html", deal_context(request, viewer, deal, notice=done), page="deals"
    )


def deal_context(
    request: Request,
    viewer: Viewer,
    key: str,
    *,
    notice: str | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything the Deal page shows; `values` are a failed form's input, shown again."""
    app = web(request)
    now = app.now()
    with app.db() as s:
        row = browse.find_deal(s, viewer.owners, key)
        if row.stage == "open":  # up to date, and its next step drafted to be shown
            planning.plan(s, [row.owner_id], now, playbook=app.playbook, deal_ids=[row.id])
        timeline = browse.deal_timeline(s, viewer.owners, key)
        cadence = agenda.cadence(s, viewer.owners, key, now, playbook=app.playbook)["steps"]
        contact = s.get_one(m.Contact, row.contact_id)
        owner = s.get_one(m.User, row.owner_id)
        step = s.scalar(
            select(m.Step)
            .where(m.Step.deal_id == row.id, m.Step.status.in_(planning.OPEN))
            .order_by(m.Step.due, m.Step.id)
            .limit(1)
        )
        wanted = {e.get("contact") for e in timeline["events"]} | {
            k for c in cadence for k in c["to"]
        }
        if step is not None:
            wanted |= set(step.to)
        names = dict(
            s.execute(
                select(m.Contact.key, m.Contact.name).where(
                    m.Contact.owner_id == row.owner_id,
                    m.Contact.key.in_(sorted(k for k in wanted if k)),
                )
            ).all()
        )
        deal_values = edits.deal_json(row, None)
        contact_values = edits.contact_json(contact)
        tz = checks.zone(owner.timezone)
        next_step = (
            {
                "step_id": step.id,
                "on_today": step.due < planning.end_of_day(now, tz),
                **planning.step_json(planning.step_from_row(step), tz),
            }
            if step is not None
            else None
        )
        unhandled = sum(
            1 for e in timeline["events"] if e.get("reply") and not e["reply"]["handled"]
        )
    today = now.astimezone(tz).date()
    proposal = timeline["proposal"]
    if proposal is not None and proposal["expires_at"]:
        left = (date.fromisoformat(proposal["expires_at"]) - today).days
        proposal = {**proposal, "days_left": left}
    values = values or {}
    return {
        "deal": timeline,
        "href": _href(key),
        "money": _money,
        "cadence": cadence,
        "next_step": next_step,
        "proposal": proposal,
        "names": names,
        "unhandled": unhandled,
        "form": {
            "deal": {**deal_values, **values.get("deal", {})},
            "contact": {**contact_values, **values.get("contact", {})},
        },
        "contact_key": contact.key,
        "email_bad": contact.email_bad,
        "errors": errors or {},
        "notice": NOTICES.get(notice or ""),
        "state_labels": STATE_LABELS,
        "reason_labels": REASON_LABELS,
        "stages": STAGES,
        "urgencies": URGENCIES,
        "channels": CHANNELS,
        "outcomes": OUTCOMES,
        "zones": ZONES,
        "country": owner.country,
    }


def _saved_or_again(
    request: Request, viewer: Viewer, key: str, form: str, fields: dict[str, Any]
) -> Response:
    """Save one form's fields; on bad input, the page again with each field's message."""
    app = web(request)
    try:
        with app.db() as s:
            if form == "deal":
                edits.update_deal(s, viewer.owners, key, fields, app.now(), app.playbook)
            else:
                deal = browse.find_deal(s, viewer.owners, key)
                contact = s.get_one(m.Contact, deal.contact_id)
                edits.update_contact(
                    s, [deal.owner_id], contact.key, fields, app.now(), app.playbook
                )
    except NotFound:
        raise
    except edits.FieldErrors as exc:
        return _again(request, viewer, key, form, fields, exc.fields, exc.http_status)
    except BadInput as exc:
        field, _, message = exc.message.partition(": ")
        problems = {field: message} if message else {"form": exc.message}
        return _again(request, viewer, key, form, fields, problems, exc.http_status)
    return RedirectResponse(f"{_href(key)}?done={form}", 303)


def _again(
    request: Request,
    viewer: Viewer,
    key: str,
    form: str,
    fields: dict[str, Any],
    problems: dict[str, str],
    status: int,
) -> Response:
    context = deal_context(request, viewer, key, errors={form: problems}, values={form: fields})
    return render(request, "deal.html", context, status=status, page="deals")


@router.post("/deals/{deal}/edit")
def edit_deal(
    request: Request,
    viewer: Signed,
    deal: Key,
    title: Annotated[str, Form(max_length=2_000)] = "",
    urgency: Annotated[str, Form(max_length=40)] = "",
    stage: Annotated[str, Form(max_length=40)] = "",
    problem: Annotated[str, Form(max_length=40_000)] = "",
    benefits: Annotated[str, Form(max_length=40_000)] = "",
    cost_of_inaction: Annotated[str, Form(max_length=40_000)] = "",
    proposal_expires_at: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    fields = {
        "title": title,
        "urgency": urgency,
        "stage": stage,
        "problem": problem,
        "benefits": benefits,
        "cost_of_inaction": cost_of_inaction,
        "proposal_expires_at": proposal_expires_at,
    }
    return _saved_or_again(request, viewer, deal, "deal", fields)


@router.post("/deals/{deal}/contact")
def edit_contact(
    request: Request,
    viewer: Signed,
    deal: Key,
    name: Annotated[str, Form(max_length=2_000)] = "",
    first_name: Annotated[str, Form(max_length=2_000)] = "",
    email: Annotated[str, Form(max_length=2_000)] = "",
    phone: Annotated[str, Form(max_length=400)] = "",
    company: Annotated[str, Form(max_length=2_000)] = "",
    title: Annotated[str, Form(max_length=2_000)] = "",
    timezone: Annotated[str, Form(max_length=400)] = "",
    linkedin: Annotated[str, Form(max_length=4_000)] = "",
    humor_ok: Annotated[str, Form(max_length=10)] = "",
    nearby: Annotated[str, Form(max_length=10)] = "",
    do_not_contact: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    fields: dict[str, Any] = {
        "name": name,
        "first_name": first_name,
        "email": email,
        "phone": phone,
        "company": company,
        "title": title,
        "timezone": timezone,
        "linkedin": linkedin,
        "humor_ok": bool(humor_ok),
        "nearby": bool(nearby),
        "do_not_contact": bool(do_not_contact),
    }
    return _saved_or_again(request, viewer, deal, "contact", fields)


# -- JSON API ------------------------------------------------------------------------------


# What the API accepts, said in the OpenAPI document as exactly as JSON Schema can; the
# services check it again (and what no schema can say: a possible phone number…).
# Spelled out rather than \s, which JSON Schema (ECMA), pydantic (Rust) and Python read
# differently: every character any of them takes for a space or a control character.
SPACES = r"\x00-\x20\x7f-\x9f\u00a0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
NOT_BLANK = rf"^[^\x00-\x1f\x7f]*[^{SPACES}][^\x00-\x1f\x7f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
URL = rf"^https?://[^{SPACES}]+$"
PHONE = r"^[+(]?[0-9][0-9 ()./-]{1,38}$"
# A real calendar day from 2000-01-01 to 2099-12-31 (services/edits.py bounds them so).
DAY = (
    r"^(?:20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|20(?:[02468][048]|[13579][26])-02-29)$"
)


def _tidy(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """In the document, a field left out is unchanged: no defaults, and null only where it
    clears the field."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        prop.pop("default", None)
        options = [o for o in prop.get("anyOf", ()) if o.get("type") != "null"]
        if name not in nullable and len(options) == 1:
            del prop["anyOf"]
            prop.update(options[0])


class DealPatch(BaseModel):
    """The deal fields to change; those left out stay as they are. Null clears a field
    that may be empty."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_tidy)
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"problem", "benefits", "cost_of_inaction", "proposal_expires_at"}
    )

    title: Annotated[str, Field(max_length=300, pattern=NOT_BLANK)] | None = None
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]
    stage: Literal[STAGES] | None = None  # type: ignore[valid-type]
    problem: Annotated[str, Field(max_length=10_000, pattern=TEXT)] | None = None
    benefits: Annotated[str, Field(max_length=10_000, pattern=TEXT)] | None = None
    cost_of_inaction: Annotated[str, Field(max_length=10_000, pattern=TEXT)] | None = None
    proposal_expires_at: (
        Annotated[str, Field(max_length=10, pattern=DAY, description="YYYY-MM-DD")] | None
    ) = None


class DealEditOut(BaseModel):
    deal: str
    title: str
    urgency: str
    stage: str
    problem: str | None
    benefits: str | None
    cost_of_inaction: str | None
    proposal_expires_at: str | None
    state: str | None
    reasons: list[str]
    next: NextOut | None


class ContactPatch(BaseModel):
    """The contact fields to change; those left out stay as they are. Null clears a field
    that may be empty. `phone` is read in the owner's country and stored in E.164."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_tidy)
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"first_name", "email", "phone", "company", "title", "timezone", "linkedin"}
    )

    name: Annotated[str, Field(max_length=200, pattern=NOT_BLANK)] | None = None
    first_name: Annotated[str, Field(max_length=100, pattern=ONE_LINE)] | None = None
    email: Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})] | None = (
        None
    )
    phone: Annotated[str, Field(max_length=40, pattern=PHONE)] | None = None
    company: Annotated[str, Field(max_length=200, pattern=ONE_LINE)] | None = None
    title: Annotated[str, Field(max_length=200, pattern=ONE_LINE)] | None = None
    # A tz database name (null clears it); the service checks it is a known one.
    timezone: Annotated[str, Field(min_length=1, max_length=64, pattern=ZONE_NAME)] | None = None
    linkedin: Annotated[str, Field(max_length=500, pattern=URL)] | None = None
    humor_ok: bool | None = None
    nearby: bool | None = None
    do_not_contact: bool | None = None


class ContactOut(BaseModel):
    contact: str
    name: str
    first_name: str | None
    email: str | None
    email_bad: bool
    phone: str | None
    company: str | None
    title: str | None
    timezone: str | None
    linkedin: str | None
    humor_ok: bool
    nearby: bool
    do_not_contact: bool


@api.patch("/deals/{deal}", response_model=DealEditOut)
def api_edit_deal(request: Request, viewer: Signed, deal: Key, change: DealPatch) -> dict[str, Any]:
    """Change a deal's fields (only those given) and replan it."""
    app = web(request)
    with app.db() as s:
        return edits.update_deal(
            s, viewer.owners, deal, change.model_dump(exclude_unset=True), app.now(), app.playbook
        )


@api.patch("/contacts/{contact}", response_model=ContactOut)
def api_edit_contact(
    request: Request, viewer: Signed, contact: Key, change: ContactPatch
) -> dict[str, Any]:
    """Change a contact's fields (only those given) and replan the deals they take part in."""
    app = web(request)
    with app.db() as s:
        return edits.update_contact(
            s, viewer.owners, contact, change.model_dump(exclude_unset=True), app.now(),
            app.playbook,
        )  # fmt: skip
