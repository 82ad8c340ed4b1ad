"""Every variant of the default playbook, rendered for every deal of the sample workspace,
passes the tone check and stays within 150 words (PRODUCT §4 rule 4)."""

from __future__ import annotations

from pathlib import Path

from unghost.domain.compose import context
from unghost.domain.playbook import render
from unghost.domain.slots import free_slots
from unghost.domain.tone import check_tone, count_words, without_signature
from unghost.services import plan as planning
from unghost.services.demo import sample_anchor, sample_document
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store.db import make_engine, session_factory


def test_every_default_variant_is_clean_for_every_sample_deal(tmp_path: Path) -> None:
    doc = sample_document()
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path}/t.db", home=tmp_path))
    import_document(engine, doc)
    now = sample_anchor(doc)
    playbook = planning.default_playbook()
    rendered = 0
    problems: list[str] = []
    with session_factory(engine)() as session:
        worlds = list(planning.load_worlds(session, [1], playbook))
    for _, _, w in worlds:
        deal, prospect = w.deal, w.contact
        for play in playbook.plays:
            key = {"contact": deal.contact, "referrer": deal.referrer or deal.advocate,
                   "assistant": prospect.assistant}[play.to]  # fmt: skip
            if key is None or key not in w.people:
                continue  # the play needs someone this deal does not have
            if "proposal_expiring" in play.requires and deal.proposal is None:
                continue
            times = free_slots(w.cal, w.busy, now=now, recipient_tz=w.people[key].timezone)
            ctx = context(
                owner=w.owner, deal=deal, contact=prospect, recipient=w.people[key],
                people=w.people, cal=w.cal, content=w.content[0] if w.content else None,
                times=times, last_meeting=now, check_back=now.date(),
                proposal_default_days=playbook.settings.proposal_default_days,
            )  # fmt: skip
            for variant in play.variants:
                draft = render(variant, ctx)
                rendered += 1
                warnings = check_tone(draft.subject, draft.body, pressure_ok=play.pressure_ok)
                words = count_words(without_signature(draft.body))
                if warnings or words > 150 or "None" in draft.body:
                    problems.append(f"{deal.key} {variant.id}: {warnings} ({words} words)")
    engine.dispose()
    assert rendered > 1500
    assert problems == []
