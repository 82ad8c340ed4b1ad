"""Editing the playbook's templates: what the playbook holds, a live preview, saving.

A preview compiles the source with the checks of loading (the same blocks, the same
fields) and renders it against one deal of the viewer, with the very template context the
planner builds for that deal (domain/compose), then runs the tone check. The template runs
in the playbook's sandbox, in a child process with time and memory limits
(services/sandbox). Saving writes `templates/<play>/<name>.j2` into the user's playbook
folder and keeps it only if the whole playbook still loads.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from unghost.domain import compose
from unghost.domain.planner import World
from unghost.domain.playbook import (
    PRECONDITION_MEANINGS,
    Play,
    Playbook,
    Variant,
    load_playbook,
    sample_context,
)
from unghost.domain.silence import assess
from unghost.domain.slots import free_slots
from unghost.errors import BadInput, NotFound
from unghost.services import plan as planning
from unghost.services import sandbox
from unghost.services.checks import quote
from unghost.store import models as m

MAX_SOURCE = 20_000  # characters of one template
DEAL_CHOICES = 200  # deals offered for the preview
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_saving = threading.Lock()


@dataclass(frozen=True)
class Preview:
    """A template rendered for one deal (None: the sample deal), or why it could not be."""

    subject: str
    body: str
    script: str | None
    warnings: tuple[str, ...]
    error: str | None
    notes: tuple[str, ...]
    deal: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "body": self.body,
            "script": self.script,
            "warnings": list(self.warnings),
            "error": self.error,
            "notes": list(self.notes),
            "deal": self.deal,
        }


# -- what the playbook holds ----------------------------------------------------------


def variant_name(variant: Variant) -> str:
    """ "2" for the variant "progress-check/2"."""
    return variant.id.split("/", 1)[1]


def find_variant(playbook: Playbook, play_id: str, name: str) -> tuple[Play, Variant]:
    """The play and its variant of this name; `NotFound` for either."""
    play = playbook.play(play_id)
    for variant in play.variants:
        if variant_name(variant) == name:
            return play, variant
    raise NotFound(f"play {play_id} has no variant {quote(name)}")


def source_of(variant: Variant) -> str:
    """The template file's text, as it was loaded."""
    return Path(variant.path).read_text(encoding="utf-8")


def is_edited(variant: Variant, folder: Path) -> bool:
    """Whether the variant comes from the user's playbook folder rather than the default."""
    return Path(variant.path).is_relative_to(folder)


def overview(playbook: Playbook, folder: Path) -> dict[str, Any]:
    """The plays in cadence order with their rules and variants, and the cadence settings."""
    s = playbook.settings
    return {
        "settings": {
            "spacing_days": s.spacing_days,
            "high_urgency_spacing_business_days": s.high_urgency_spacing_business_days,
            "check_back_days": list(s.check_back_days),
            "similarity_threshold": s.similarity_threshold,
            "proposal_default_days": s.proposal_default_days,
        },
        "plays": [
            {
                "id": play.id,
                "source": play.source,
                "phase": play.phase,
                "summary": play.summary,
                "channels": list(play.channels),
                "to": play.to,
                "requires": [
                    {"id": r, "meaning": PRECONDITION_MEANINGS.get(r, r)} for r in play.requires
                ],
                "delay_days": play.delay_days,
                "offers_times": play.offers_times,
                "pressure_ok": play.pressure_ok,
                "enabled": play.enabled,
                "script": play.script,
                "variants": [
                    {"id": v.id, "name": variant_name(v), "edited": is_edited(v, folder)}
                    for v in play.variants
                ],
            }
            for play in playbook.plays
        ],
    }


def deal_choices(session: Session, owners: Sequence[int]) -> list[dict[str, str]]:
    """The deals a preview may use: open ones first, by id (a bounded list)."""
    rows = session.execute(
        select(m.Deal.key, m.Deal.title, m.Contact.name)
        .join(m.Contact, m.Contact.id == m.Deal.contact_id)
        .where(m.Deal.owner_id.in_(owners))
        .order_by((m.Deal.stage != "open"), m.Deal.key, m.Deal.id)
        .limit(DEAL_CHOICES)
    )
    seen: set[str] = set()
    out = []
    for key, title, name in rows:
        if key not in seen:
            seen.add(key)
            out.append({"deal": key, "title": title, "contact": name})
    return out


# -- previews --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What a preview renders against: the play, the template context, notes about it."""

    play: Play
    context: dict[str, Any]
    notes: tuple[str, ...]
    deal: str | None


def preview(
    session: Session,
    owners: Sequence[int],
    play_id: str,
    source: str,
    deal_key: str | None,
    playbook: Playbook,
    now: datetime,
    *,
    name: str = "preview",
) -> Preview:
    """Render `source` as a variant of the play for one of the viewer's deals (None: the
    sample deal) and check its tone; a template error comes back as "line N: …".

    Raises BadInput "play: …" for a play the playbook does not have, NotFound for a deal
    that is not one of these owners'. (Callers holding a write transaction should call
    `setting` inside it and `render_preview` after it: rendering may take seconds.)
    """
    return render_preview(setting(session, owners, play_id, deal_key, playbook, now), source,
                          name=name)  # fmt: skip


def setting(
    session: Session,
    owners: Sequence[int],
    play_id: str,
    deal_key: str | None,
    playbook: Playbook,
    now: datetime,
) -> Setting:
    """The play and the template context of a preview (None: the sample deal)."""
    try:
        play = playbook.play(play_id)
    except NotFound as exc:
        raise BadInput(f"play: {exc.message}") from None
    if deal_key:
        context, notes = deal_context(session, owners, play, deal_key, playbook, now)
    else:
        context, notes = sample_for(play), ["the sample deal of the playbook"]
    return Setting(play, context, tuple(notes), deal_key or None)


def render_preview(where: Setting, source: str, *, name: str = "preview") -> Preview:
    """Compile, render and tone-check `source` for `where`, in the sandbox's helper."""
    _check_source(source)
    play = where.play
    outcome = sandbox.attempt(
        sandbox.Trial(
            play=play.id,
            name=name if _NAME.match(name) else "preview",
            source=source,
            context=where.context,
            pressure_ok=play.pressure_ok,
            needs_script=play.script,
        )
    )
    return Preview(
        subject=outcome.subject,
        body=outcome.body,
        script=outcome.script,
        warnings=outcome.warnings,
        error=outcome.error,
        notes=where.notes,
        deal=where.deal,
    )


def sample_for(play: Play) -> dict[str, Any]:
    """The sample context, addressed to whom the play writes to."""
    context = sample_context()
    if play.to in ("referrer", "assistant"):
        person = context[play.to]
        assert isinstance(person, dict)
        context["recipient"] = {"name": person["name"], "first_name": person["first_name"]}
    return context


def deal_context(
    session: Session,
    owners: Sequence[int],
    play: Play,
    deal_key: str,
    playbook: Playbook,
    now: datetime,
) -> tuple[dict[str, Any], list[str]]:
    """The template context the planner would build for this play on this deal.

    What the deal lacks and the play needs (a referrer, a content item, a proposal…) is
    borrowed from the sample deal, and a note says so.
    """
    worlds = list(planning.load_worlds(session, owners, playbook, deals=[deal_key]))
    if not worlds:
        raise NotFound(f"no deal {quote(deal_key)}")
    world: World = worlds[0][2]
    deal, contact = world.deal, world.contact
    a = assess(deal, contact, world.cal, playbook.settings, now)
    key = {"referrer": deal.referrer or deal.advocate, "assistant": contact.assistant}.get(
        play.to, deal.contact
    )
    recipient = world.people.get(key) if key else None
    content = None
    if "has_content" in play.requires:
        content = compose.matching_content(deal, world.content, world.history(key or "").content)
    times = []
    if play.offers_times:
        tz = (recipient or contact).timezone
        times = free_slots(world.cal, world.busy, now=now, count=3, recipient_tz=tz)
    moment = a.nurture_until if play.phase == "check_back" and a.nurture_until else now
    check_back = world.cal.add_days_then_business(moment, playbook.settings.check_back_days[0])
    held = [mt.at for mt in deal.meetings if mt.status == "held"]
    context = compose.context(
        owner=world.owner,
        deal=deal,
        contact=contact,
        recipient=recipient or contact,
        people=world.people,
        cal=world.cal,
        content=content,
        times=times,
        last_meeting=a.missed.at if a.missed else max(held, default=None),
        check_back=check_back.date(),
        proposal_default_days=playbook.settings.proposal_default_days,
    )
    return context, _borrow(context, play, recipient is None)


def _borrow(context: dict[str, Any], play: Play, no_recipient: bool) -> list[str]:
    """Fill in from the sample what the play needs and the deal lacks; say what was."""
    sample = sample_for(play)
    notes: list[str] = []
    needs = set(play.requires)

    def take(field: str, why: str) -> None:
        context[field] = sample[field]
        notes.append(f"{why}: the preview borrows the sample's {field.replace('_', ' ')}")

    if play.to in ("referrer", "assistant") and no_recipient:
        take(play.to, f"the deal has no {play.to}")
        context["recipient"] = sample["recipient"]
    if ("has_referrer" in needs or play.to == "referrer") and context["referrer"] is None:
        take("referrer", "the deal has no referrer or advocate")
    if ("has_assistant" in needs or play.to == "assistant") and context["assistant"] is None:
        take("assistant", "the contact has no assistant")
    if "has_content" in needs and context["content"] is None:
        take("content", "no content item matches the deal")
    if "proposal_expiring" in needs and context["proposal"] is None:
        take("proposal", "the deal has no proposal")
    if {"missed_meeting", "after_missed_meeting"} & needs and context["last_meeting"] is None:
        take("last_meeting", "the deal has no missed meeting")
    if play.offers_times and not context["times"]:
        take("times", "no free times in the calendar")
    if "has_interest" in needs and not context["contact"]["interest"]:
        context["contact"] = {**context["contact"], **_pick(sample["contact"], "interest")}
        notes.append("the contact has no interest on file: the preview borrows the sample's")
    if "has_benefits_and_cost" in needs and not (
        context["deal"]["benefits"] and context["deal"]["cost_of_inaction"]
    ):
        context["deal"] = {**context["deal"], **_pick(sample["deal"], "benefits")}
        notes.append("the deal lacks benefits or a cost of inaction: the preview borrows both")
    return notes


def _pick(fields: dict[str, Any], which: str) -> dict[str, Any]:
    if which == "interest":
        return {"interest": fields["interest"], "interests": fields["interests"]}
    return {"benefits": fields["benefits"], "cost_of_inaction": fields["cost_of_inaction"]}


def _check_source(source: str) -> None:
    if len(source) > MAX_SOURCE:
        raise BadInput(f"source: longer than {MAX_SOURCE:,} characters")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("source: not valid text (a lone surrogate character)") from None


# -- saving ----------------------------------------------------------------------------


def save(folder: Path, play_id: str, name: str, source: str, playbook: Playbook) -> Playbook:
    """Write the template into the user's playbook folder; keep it only if the playbook loads.

    The source is first tried on the sample deal where it cannot harm the server; then
    `templates/<play>/<name>.j2` is written (folders created) and the whole playbook is
    loaded. On any error the folder is put back as it was and `BadInput` says why:
    "source: line N: …" when it is about this template. Returns the new playbook.
    """
    play = playbook.play(play_id)
    if not _NAME.match(name):
        raise BadInput(f"variant: {quote(name)} is not a variant name (like 1, 2, short)")
    _check_source(source)
    tried = sandbox.attempt(
        sandbox.Trial(play.id, name, source, sample_for(play), play.pressure_ok, play.script)
    )
    if tried.error is not None:
        raise BadInput(f"source: {tried.error}")
    target = folder / "templates" / play.id / f"{name}.j2"
    with _saving:
        created = [p for p in (folder, target.parent.parent, target.parent) if not p.is_dir()]
        before = target.read_bytes() if target.is_file() else None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, source.encode("utf-8"))
            return load_playbook(folder)
        except BadInput as exc:
            _restore(target, before, created)
            message = exc.message
            if message.startswith(f"{target}: "):
                raise BadInput(f"source: {message.removeprefix(f'{target}: ')}") from None
            raise BadInput(
                f"the playbook folder does not load with this change: {message}"
            ) from None
        except OSError as exc:
            _restore(target, before, created)
            raise BadInput(
                f"the playbook folder cannot be written: {exc.strerror or exc}"
            ) from None


def _write(target: Path, data: bytes) -> None:
    """Replace the file at once: a reader sees the old text or the new, never half."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def _restore(target: Path, before: bytes | None, created: list[Path]) -> None:
    try:
        if before is None:
            target.unlink(missing_ok=True)
        else:
            _write(target, before)
        for folder in reversed(created):
            folder.rmdir()
    except OSError:
        pass
