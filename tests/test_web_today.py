"""The web app's Today: the agenda with drafts, and each action on a step."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select, update

from unghost.services.unsubscribe import make_token
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import Site, csrf_of


def _step_ids(html: str, action: str) -> list[int]:
    return [int(x) for x in re.findall(rf"/steps/(\d+)/{action}", html)]


def _wait_for_eml(folder: Path, timeout: float = 15) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.eml")) if folder.exists() else []
        if found:
            return found
        time.sleep(0.05)
    return []


def test_today_lists_the_same_items_as_the_api_in_order(site: Site) -> None:
    c = site.client(site.owner)
    api = c.get("/api/today").json()
    page = c.get("/today").text
    kinds = [i["kind"] for i in api["items"]]
    assert kinds == sorted(kinds, key=["reply", "step", "question"].index)
    steps = [i for i in api["items"] if i["kind"] == "step"]
    assert steps, "the sample Monday has steps due"
    for item in steps:
        assert f'id="step-{item["step_id"]}"' in page
    # Each email step shows its draft, editable, and its why.
    first = next(i for i in steps if i["channel"] == "email")
    assert f'value="{first["subject"]}"' in page.replace("&#39;", "'").replace("&amp;", "&")
    assert "Why:" in page


def test_calls_show_the_script_and_a_tel_link(site: Site) -> None:
    c = site.client(site.owner)
    calls = [i for i in c.get("/api/today").json()["items"] if i.get("channel") == "call"]
    page = c.get("/today").text
    assert calls, "the sample Monday has a call due"
    assert 'href="tel:+' in page
    assert "Script" in page


def test_editing_a_draft_and_sending_it_writes_the_edited_words(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    step_id = _step_ids(page, "send")[0]
    r = c.post(
        f"/steps/{step_id}/send",
        data={"csrf": csrf_of(page), "subject": "A new subject", "body": "Edited by hand.\n"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/today?done=sent"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with transaction(site.engine) as s:
            step = s.get_one(m.Step, step_id)
            if step.status == "sent":
                break
        time.sleep(0.05)
    assert step.status == "sent"
    sent = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in _wait_for_eml(site.settings.outbox_dir)
    ]
    mine = [msg for msg in sent if msg["Subject"] == "A new subject"]
    assert len(mine) == 1
    assert "Edited by hand." in mine[0].get_body().get_content()  # type: ignore[union-attr]


def test_an_empty_subject_gets_a_field_message_and_nothing_changes(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    step_id = _step_ids(page, "send")[0]
    r = c.post(f"/steps/{step_id}/send", data={"csrf": csrf_of(page), "subject": "", "body": "x"})
    assert r.status_code == 400
    assert 'data-field="subject"' in r.text
    with transaction(site.engine) as s:
        assert s.get_one(m.Step, step_id).status == "planned"


def test_skip_snooze_and_log_outcome(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    token = csrf_of(page)
    first, second = _step_ids(page, "skip")[:2]
    assert c.post(f"/steps/{first}/skip", data={"csrf": token}).status_code == 303
    r = c.post(f"/steps/{second}/snooze", data={"csrf": token, "until": "3d"})
    assert r.status_code == 303
    bad = c.post(f"/steps/{second}/snooze", data={"csrf": token, "until": "forever"})
    assert bad.status_code in (400, 409)
    with transaction(site.engine) as s:
        assert s.get_one(m.Step, first).status == "skipped"
        snoozed = s.get_one(m.Step, second)
        assert snoozed.due > site.now
    after = c.get("/today").text
    assert f'id="step-{first}"' not in after
    assert f'id="step-{second}"' not in after  # snoozed past today
    call = next(i for i in c.get("/api/today").json()["items"] if i.get("channel") == "call")
    r = c.post(
        f"/deals/{call['deal']}/log",
        data={"csrf": token, "channel": "call", "outcome": "no_answer", "body": "Rang twice"},
    )
    assert r.status_code == 303
    with transaction(site.engine) as s:
        deal = s.scalar(select(m.Deal).where(m.Deal.key == call["deal"]))
        assert deal is not None
        last = s.scalar(
            select(m.Touch).where(m.Touch.deal_id == deal.id).order_by(m.Touch.id.desc()).limit(1)
        )
        assert last is not None
        assert (last.channel, last.outcome, last.body) == ("call", "no_answer", "Rang twice")


def test_a_bad_outcome_is_a_field_message(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    deal = c.get("/api/today").json()["items"][0]["deal"]
    r = c.post(f"/deals/{deal}/log", data={"csrf": csrf_of(page), "channel": "pigeon"})
    assert r.status_code == 400
    assert 'data-field="channel"' in r.text


def test_one_click_unsubscribe(site: Site) -> None:
    items = site.client(site.owner).get("/api/today").json()["items"]
    key = next(i["to"][0] for i in items if i.get("channel") == "email")
    with transaction(site.engine) as s:
        owner = s.scalar(select(m.User).where(m.User.email == site.owner))
        assert owner is not None
        contact = s.scalar(
            select(m.Contact).where(m.Contact.owner_id == owner.id, m.Contact.key == key)
        )
        assert contact is not None and not contact.do_not_contact
        token = make_token(contact.id, owner.id, site.app.state.web.key)
        contact_id = contact.id
    c = site.client()  # no sign-in
    page = c.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Unsubscribe" in page.text
    with transaction(site.engine) as s:
        assert not s.get_one(m.Contact, contact_id).do_not_contact  # a GET changes nothing
    for _ in range(2):  # RFC 8058's POST, twice: the same answer
        r = c.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200
        assert "You are unsubscribed" in r.text
    with transaction(site.engine) as s:
        assert s.get_one(m.Contact, contact_id).do_not_contact
        deals = list(s.scalars(select(m.Deal.id).where(m.Deal.contact_id == contact_id)))
        assert deals
        open_steps = s.scalars(
            select(m.Step).where(m.Step.deal_id.in_(deals), m.Step.status.in_(("planned",)))
        ).all()
        assert list(open_steps) == []
        asked = s.scalars(select(m.Reply).where(m.Reply.contact_id == contact_id)).all()
        assert [(r.intent, r.handled_at is not None) for r in asked] == [("unsubscribe", True)]
    # It stands: the flag cannot be cleared by hand afterwards.
    auth = {"Authorization": f"Bearer {site.token(site.owner)}"}
    r = site.client().patch(f"/api/contacts/{key}", json={"do_not_contact": False}, headers=auth)
    assert r.status_code == 400
    assert "that stands for ever" in r.json()["error"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert c.post(f"/u/{forged}").status_code == 404


def test_schedule_keeps_the_edited_words_for_the_chosen_time(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    step_id = _step_ids(page, "send")[0]
    data = {"csrf": csrf_of(page), "subject": "Later", "body": "Written now, sent later."}
    bad = c.post(f"/steps/{step_id}/schedule", data={**data, "at": "next tuesday"})
    assert bad.status_code == 400
    assert 'data-field="at"' in bad.text
    r = c.post(f"/steps/{step_id}/schedule", data={**data, "at": "2026-11-25T10:30"})
    assert r.headers["location"] == "/today?done=scheduled"
    with transaction(site.engine) as s:
        step = s.get_one(m.Step, step_id)
        assert (step.status, step.subject) == ("approved", "Later")
        assert step.due.isoformat() == "2026-11-25T15:30:00+00:00"  # 10:30 in New York


def test_steps_the_worker_stored_without_words_are_drafted_before_today_shows_them(
    site: Site,
) -> None:
    c = site.client(site.owner)
    assert c.get("/api/today").json()["items"]  # every deal planned: none is stale now
    with transaction(site.engine) as s:
        s.execute(update(m.Step).values(subject=None, body=None))  # as `refresh` leaves them
    items = c.get("/api/today").json()["items"]
    emails = [i for i in items if i.get("channel") == "email"]
    assert emails
    assert all(i["subject"] and i["body"] for i in emails)
