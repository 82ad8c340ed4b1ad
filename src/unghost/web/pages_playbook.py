"""The Playbook page: the plays in cadence order, and a template editor with a live preview.

Anyone signed in may read the playbook and try wording in the editor (the preview renders
against one of their own deals, with the tone warnings); only an admin may save, which
writes the template into the playbook folder and reloads the playbook for everyone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from unghost.domain.playbook import FIELDS, Playbook
from unghost.errors import BadInput
from unghost.services import playbookedit
from unghost.services.playbookedit import MAX_SOURCE
from unghost.web.api import ERRORS, Signed
from unghost.web.auth import admin
from unghost.web.context import Viewer, web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
Admin = Annotated[Viewer, Depends(admin)]
PlayId = Annotated[str, PathParam(min_length=1, max_length=60)]
VariantName = Annotated[str, PathParam(min_length=1, max_length=40)]
ONLY_ADMINS = (
    "Only an admin may change the playbook; you can still try wording and see the preview."
)
FIELD_NAMES = tuple(
    f"{base}.{name}" if name else base
    for base, names in FIELDS.items()
    for name in (sorted(names) or [""])
)
PHASE_NAMES = {
    "setup": "Setting up",
    "recover": "After a missed meeting",
    "referrer": "Through the referrer",
    "opener": "Opening",
    "rotation": "Rotation",
    "expiry": "Proposal expiry",
    "closing": "Closing",
    "final": "Final call",
    "check_back": "Checking back",
}


# -- pages -----------------------------------------------------------------------------


@router.get("/playbook")
def playbook_page(request: Request, viewer: Signed) -> Response:
    app = web(request)
    data = playbookedit.overview(app.playbook, app.playbook_dir)
    return render(request, "playbook.html", {**data, "phase_names": PHASE_NAMES}, page="playbook")


@router.get("/playbook/{play}/{variant}")
def variant_page(
    request: Request,
    viewer: Signed,
    play: PlayId,
    variant: VariantName,
    deal: Annotated[str | None, Query(max_length=200)] = None,
    saved: str | None = None,
) -> Response:
    notice = "Saved: the planner drafts with this wording from now on." if saved else None
    return _editor(request, viewer, play, variant, deal=deal, notice=notice)


@router.post("/playbook/{play}/{variant}")
def variant_save(
    request: Request,
    viewer: Signed,
    play: PlayId,
    variant: VariantName,
    source: Annotated[str, Form(max_length=10 * MAX_SOURCE)] = "",
    deal: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=20)] = "save",
) -> Response:
    """Save the template (admins); `action=preview` only shows it (the page without script)."""
    app = web(request)
    source = source.replace("\r\n", "\n")
    if action == "preview":
        return _editor(request, viewer, play, variant, source=source, deal=deal)
    if not viewer.is_admin:
        errors = {"form": ONLY_ADMINS}
        return _editor(request, viewer, play, variant, source=source, deal=deal, errors=errors,
                       status=403)  # fmt: skip
    playbookedit.find_variant(app.playbook, play, variant)  # 404 before anything is written
    try:
        playbookedit.save(app.playbook_dir, play, variant, source, app.playbook)
    except BadInput as exc:
        field, _, message = exc.message.partition(": ")
        errors = {"source": message} if field == "source" and message else {"form": exc.message}
        return _editor(request, viewer, play, variant, source=source, deal=deal, errors=errors,
                       status=400)  # fmt: skip
    app.reload_playbook()
    query = urlencode({"saved": 1, "deal": deal} if deal else {"saved": 1})
    return RedirectResponse(f"/playbook/{play}/{variant}?{query}", 303)


def _editor(
    request: Request,
    viewer: Viewer,
    play_id: str,
    name: str,
    *,
    source: str | None = None,
    deal: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    """The editor for one variant, with its preview against the chosen deal."""
    app = web(request)
    playbook = app.playbook
    play, variant = playbookedit.find_variant(playbook, play_id, name)
    text = playbookedit.source_of(variant) if source is None else source
    errors = dict(errors or {})
    preview = None
    deals: list[dict[str, str]] = []
    chosen = deal or ""
    try:
        with app.db() as s:
            deals = playbookedit.deal_choices(s, viewer.owners)
            chosen = deals[0]["deal"] if deal is None and deals else (deal or "")
            where = playbookedit.setting(s, viewer.owners, play.id, chosen or None, playbook,
                                         app.now())  # fmt: skip
        preview = playbookedit.render_preview(where, text, name=name)  # after the transaction
    except BadInput as exc:
        field, _, message = exc.message.partition(": ")
        if field == "source" and message:
            errors.setdefault("source", message)
        else:
            errors.setdefault("deal", exc.message)
        status = status if status != 200 else exc.http_status
    if preview is not None and preview.error and "source" not in errors:
        errors["source"] = preview.error
        if source is not None and status == 200:
            status = 400  # a posted template that does not compile
    context: dict[str, Any] = {
        "play": play,
        "phase_name": PHASE_NAMES.get(play.phase, play.phase),
        "name": name,
        "variants": [playbookedit.variant_name(v) for v in play.variants],
        "source": text,
        "deals": deals,
        "deal": chosen,
        "preview": preview,
        "errors": errors,
        "notice": notice,
        "edited": playbookedit.is_edited(variant, app.playbook_dir),
        "folder": str(app.playbook_dir) if viewer.is_admin else None,
        "max_source": MAX_SOURCE,
        "fields": FIELD_NAMES,
    }
    return render(request, "variant.html", context, status=status, page="playbook")


# -- JSON API --------------------------------------------------------------------------


class VariantOut(BaseModel):
    id: str
    name: str
    edited: bool


class PreconditionOut(BaseModel):
    id: str
    meaning: str


class PlayOut(BaseModel):
    id: str
    source: str
    phase: str
    summary: str
    channels: list[str]
    to: str
    requires: list[PreconditionOut]
    delay_days: int | None
    offers_times: bool
    pressure_ok: bool
    enabled: bool
    script: bool
    variants: list[VariantOut]


class CadenceOut(BaseModel):
    spacing_days: int
    high_urgency_spacing_business_days: int
    check_back_days: list[int]
    similarity_threshold: float
    proposal_default_days: int


class PlaybookOut(BaseModel):
    settings: CadenceOut
    plays: list[PlayOut]


class TemplateOut(BaseModel):
    play: str
    variant: str
    name: str
    source: str
    edited: bool


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, Field(max_length=MAX_SOURCE)]


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    play: Annotated[str, Field(min_length=1, max_length=60)]
    source: Annotated[str, Field(max_length=MAX_SOURCE)]
    deal: Annotated[str | None, Field(max_length=200)] = None
    variant: Annotated[str | None, Field(max_length=40)] = None


class PreviewOut(BaseModel):
    subject: str
    body: str
    script: str | None
    warnings: list[str]
    error: str | None
    notes: list[str]
    deal: str | None


@api.get("/playbook", response_model=PlaybookOut)
def api_playbook(request: Request, viewer: Signed) -> dict[str, Any]:
    """The plays in cadence order, with their preconditions, timing, channels and variants."""
    app = web(request)
    return playbookedit.overview(app.playbook, app.playbook_dir)


@api.post("/playbook/preview", response_model=PreviewOut)
def api_preview(request: Request, viewer: Signed, ask: PreviewIn) -> dict[str, Any]:
    """Render a template source for one of your deals (none: the sample deal), with the
    tone warnings; a template that does not compile gives `error` "line N: …"."""
    app = web(request)
    with app.db() as s:
        where = playbookedit.setting(s, viewer.owners, ask.play, ask.deal or None, app.playbook,
                                     app.now())  # fmt: skip
    return playbookedit.render_preview(where, ask.source, name=ask.variant or "preview").as_json()


@api.get("/playbook/{play}/{variant}", response_model=TemplateOut)
def api_template(
    request: Request, viewer: Signed, play: PlayId, variant: VariantName
) -> dict[str, Any]:
    """One variant's template source."""
    app = web(request)
    return _template(app.playbook, app.playbook_dir, play, variant)


@api.post("/playbook/{play}/{variant}", response_model=TemplateOut)
def api_save(
    request: Request, viewer: Admin, play: PlayId, variant: VariantName, change: TemplateIn
) -> dict[str, Any]:
    """Replace a variant's template (admins); kept only if the whole playbook still loads."""
    app = web(request)
    playbookedit.find_variant(app.playbook, play, variant)
    playbookedit.save(app.playbook_dir, play, variant, change.source.replace("\r\n", "\n"),
                      app.playbook)  # fmt: skip
    return _template(app.reload_playbook(), app.playbook_dir, play, variant)


def _template(playbook: Playbook, folder: Path, play_id: str, name: str) -> dict[str, Any]:
    play, variant = playbookedit.find_variant(playbook, play_id, name)
    return {
        "play": play.id,
        "variant": variant.id,
        "name": name,
        "source": playbookedit.source_of(variant),
        "edited": playbookedit.is_edited(variant, folder),
    }
