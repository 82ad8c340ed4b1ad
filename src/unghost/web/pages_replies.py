"""The Replies page: every parsed inbound message, newest first, each one's intent correctable,
and the same under /api/replies."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from unghost.errors import BadInput
from unghost.services import replylog
from unghost.web.api import ERRORS, Signed
from unghost.web.context import Viewer, web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
ReplyId = Annotated[int, Path(ge=1, le=2**62)]
KindParam = Annotated[Literal["person", "auto_reply", "bounce", "unmatched"] | None, Query()]
CursorParam = Annotated[str | None, Query(max_length=40)]
FILTERS = (
    (None, "All"),
    ("person", "People"),
    ("auto_reply", "Auto-replies"),
    ("bounce", "Bounces"),
    ("unmatched", "Unmatched"),
)
INTENT_LABELS = {
    "interested": "interested",
    "meeting": "meeting (a time)",
    "not_now": "not now",
    "not_interested": "not interested",
    "unsubscribe": "unsubscribe",
    "referral": "referral (someone else)",
    "question": "question",
    "personal": "personal (illness, family, travel)",
    "other": "other",
}


# -- pages -----------------------------------------------------------------------------


@router.get("/replies")
def replies_page(
    request: Request,
    viewer: Signed,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    cursor: CursorParam = None,
    done: str | None = None,
) -> Response:
    return _page(request, viewer, kind=kind or None, cursor=cursor, done=done)


@router.post("/replies/{reply_id}")
def correct_reply(
    request: Request,
    viewer: Signed,
    reply_id: ReplyId,
    intent: Annotated[str, Form(max_length=40)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    cursor: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Record the seller's reading of the reply's intent (kept for learning)."""
    app = web(request)
    try:
        with app.db() as s:
            replylog.correct(s, viewer.owners, reply_id, intent)
    except BadInput as exc:
        if exc.http_status == 404:
            raise
        message = exc.message.partition(": ")[2] or exc.message
        return _page(request, viewer, kind=kind or None, cursor=cursor or None,
                     errors={reply_id: message}, status=400)  # fmt: skip
    query = {k: v for k, v in (("kind", kind), ("cursor", cursor)) if v}
    query["done"] = "corrected"
    return RedirectResponse(f"/replies?{urlencode(query)}#reply-{reply_id}", 303)


def _page(
    request: Request,
    viewer: Viewer,
    *,
    kind: str | None,
    cursor: str | None,
    done: str | None = None,
    errors: dict[int, str] | None = None,
    status: int = 200,
) -> Response:
    app = web(request)
    problem = None
    try:
        with app.db() as s:
            rows, nxt = replylog.replies_page(s, viewer.owners, kind=kind, cursor=cursor)
    except BadInput as exc:
        rows, nxt, problem, status = [], None, exc.message, 400
        kind = kind if kind in replylog.KINDS else None
    context = {
        "replies": rows,
        "next_cursor": nxt,
        "kind": kind,
        "cursor": cursor,
        "filters": FILTERS,
        "intents": replylog.INTENTS,
        "intent_labels": INTENT_LABELS,
        "errors": errors or {},
        "problem": problem,
        "notice": "Correction recorded: unghost learns from it." if done == "corrected" else None,
    }
    return render(request, "replies.html", context, status=status, page="replies")


# -- JSON API --------------------------------------------------------------------------


class BounceOut(BaseModel):
    recipient: str | None
    status: str | None
    hard: bool


class ReplyOut(BaseModel):
    id: int
    kind: Literal["person", "auto_reply", "bounce"]
    deal: str | None
    deal_title: str | None
    contact: str | None
    contact_name: str | None
    # "from" is a Python keyword: the field is named from_ and written "from".
    from_: str | None = Field(alias="from")
    subject: str | None
    received_at: str
    new_text: str | None
    intent: str | None
    corrected_intent: str | None
    confidence: float | None
    auto_reply: str | None
    return_date: str | None
    bounce: BounceOut | None
    reaction: str | None
    handled: bool

    model_config = ConfigDict(populate_by_name=True)


class RepliesOut(BaseModel):
    replies: list[ReplyOut]
    next_cursor: str | None


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: Annotated[str, Field(max_length=40)]


@api.get("/replies", response_model=RepliesOut, response_model_by_alias=True)
def api_replies(
    request: Request, viewer: Signed, kind: KindParam = None, cursor: CursorParam = None
) -> dict[str, Any]:
    """Your parsed replies, newest first; `kind` narrows them (unmatched: no deal); pass
    `next_cursor` back as `cursor` for the next page."""
    app = web(request)
    with app.db() as s:
        rows, nxt = replylog.replies_page(s, viewer.owners, kind=kind, cursor=cursor)
    return {"replies": rows, "next_cursor": nxt}


@api.post("/replies/{reply_id}", response_model=ReplyOut, response_model_by_alias=True)
def api_correct(
    request: Request, viewer: Signed, reply_id: ReplyId, correction: CorrectionIn
) -> dict[str, Any]:
    """Correct the intent unghost read in a reply (one of PRODUCT §5's); kept for learning."""
    app = web(request)
    with app.db() as s:
        return replylog.correct(s, viewer.owners, reply_id, correction.intent)
