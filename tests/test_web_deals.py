"""The Deals list and a Deal's page: filters, search, keyset pages, the timeline and the
cadence ahead, editing a deal and its contact (pages and PATCH API), escaping, access."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from unghost.services import browse
from unghost.services.ingest import ingest
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import Site, counting, csrf_of

EVIL_NAME = "<script>alert('name')</script> Yıldız"
EVIL_TITLE = "<script>alert('title')</script> freezers"


def _keys(page: str) -> list[str]:
    """The deals a Deals page lists, in order."""
    return re.findall(r'<td class="deal-title"><a href="/deals/([^"]+)"', page)


def _next_url(page: str) -> str | None:
    found = re.search(r'<a class="button primary" href="([^"]+)" rel="next">Next page</a>', page)
    return html.unescape(found[1]) if found else None


def _all_pages(c: TestClient, url: str) -> list[str]:
    """Every deal listed by following "Next page" from `url`, page after page."""
    keys: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = c.get(next_url)
        assert r.status_code == 200, r.text
        keys += _keys(r.text)
        next_url = _next_url(r.text)
        pages += 1
        assert pages < 100
    return keys


def _field_errors(page: str) -> dict[str, str]:
    return {
        k: html.unescape(v)
        for k, v in re.findall(r'class="field-error"[^>]*data-field="([^"]+)"[^>]*>([^<]*)<', page)
    }


def _contact(site: Site, key: str, owner: str | None = None) -> m.Contact:
    with transaction(site.engine) as s:
        return s.scalars(
            select(m.Contact)
            .join(m.User, m.User.id == m.Contact.owner_id)
            .where(m.Contact.key == key, m.User.email == (owner or site.owner))
        ).one()


def _deal(site: Site, key: str, owner: str | None = None) -> m.Deal:
    with transaction(site.engine) as s:
        return s.scalars(
            select(m.Deal)
            .join(m.User, m.User.id == m.Deal.owner_id)
            .where(m.Deal.key == key, m.User.email == (owner or site.owner))
        ).one()


def _open_step(site: Site, key: str) -> m.Step | None:
    deal = _deal(site, key)
    with transaction(site.engine) as s:
        return s.scalar(
            select(m.Step).where(
                m.Step.deal_id == deal.id, m.Step.status.in_(("planned", "approved"))
            )
        )


def _contact_form(c: TestClient, deal: str, **change: Any) -> dict[str, Any]:
    """The deal page's contact form as it stands, with `change` typed over it."""
    page = c.get(f"/deals/{deal}").text
    form = re.search(r'<form method="post" action="/deals/[^"]+/contact".*?</form>', page, re.S)
    assert form, "the deal page has a contact form"
    data: dict[str, Any] = {"csrf": csrf_of(page)}
    for name, value in re.findall(r'<input [^>]*name="(\w+)"[^>]*value="([^"]*)"', form[0]):
        data[name] = html.unescape(value)
    for box in ("humor_ok", "nearby", "do_not_contact"):
        data.pop(box, None)
        if re.search(rf'name="{box}" value="on" checked', form[0]):
            data[box] = "on"
    data.update(change)
    return data


def _deal_form(c: TestClient, deal: str, **change: Any) -> dict[str, Any]:
    page = c.get(f"/deals/{deal}").text
    form = re.search(r'<form method="post" action="/deals/[^"]+/edit".*?</form>', page, re.S)
    assert form, "the deal page has a deal form"
    data: dict[str, Any] = {"csrf": csrf_of(page)}
    for name, value in re.findall(r'<input [^>]*name="(\w+)"[^>]*value="([^"]*)"', form[0]):
        data[name] = html.unescape(value)
    for name, body in re.findall(r'<textarea [^>]*name="(\w+)"[^>]*>([^<]*)</textarea>', form[0]):
        data[name] = html.unescape(body)
    for name, options in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', form[0], re.S):
        data[name] = re.search(r'<option value="([^"]+)" selected', options)[1]  # type: ignore[index]
    data.update(change)
    return data


# --- the list --------------------------------------------------------------------------------


def test_the_deals_list_filters_by_state_and_by_silence_reason(pg_site: Site) -> None:
    site = pg_site
    c = site.client(site.owner)
    every = _keys(c.get("/deals?size=100").text)
    assert len(every) == 42
    api = {d["deal"]: d for d in c.get("/api/deals").json()["deals"]}

    silent = c.get("/deals?state=silent&size=100")
    assert silent.status_code == 200
    assert set(_keys(silent.text)) == {k for k, d in api.items() if d["state"] == "silent"}
    assert "blue-heron-admin" not in _keys(silent.text)  # an active deal
    assert re.search(r'aria-current="true">Silent <span class="count">26</span>', silent.text)

    missed = c.get("/deals?reason=missed_meeting").text
    assert sorted(_keys(missed)) == ["crumb-bakeries", "havelberg-freezers", "kestrel-bio"]
    both = _keys(c.get("/deals?state=silent&reason=promise_passed").text)
    assert both == ["okonkwo-law", "thornbury-lockup", "tidewater-freight"]
    # Won and lost deals are listed as such, though only open deals are planned.
    assert _keys(c.get("/deals?state=won").text) and all(
        _deal(site, k).stage == "won" for k in _keys(c.get("/deals?state=won").text)
    )

    bad = c.get("/deals?state=sleeping")
    assert bad.status_code == 400
    assert "must be one of" in _field_errors(bad.text)["state"]


def test_pages_follow_the_cursor_without_repeating_or_skipping_a_deal(pg_site: Site) -> None:
    site = pg_site
    c = site.client(site.owner)
    every = _keys(c.get("/deals?size=100").text)
    paged = _all_pages(c, "/deals?size=10")
    assert paged == every  # 5 pages of 10, 10, 10, 10, 2: each deal once, in order
    assert len(set(paged)) == 42

    silent = _keys(c.get("/deals?state=silent&size=100").text)
    paged_silent = _all_pages(c, "/deals?state=silent&size=7")
    assert paged_silent == silent
    # The cursor keeps the filters: every page of silent deals holds only silent deals.
    first = c.get("/deals?state=silent&size=7").text
    assert "state=silent" in (_next_url(first) or "")


def test_search_finds_a_deal_by_its_contacts_name(site: Site) -> None:
    c = site.client(site.owner)
    assert _keys(c.get("/deals?q=Rahul").text) == ["alder-finch-payables"]
    assert _keys(c.get("/deals?q=mehta").text) == ["alder-finch-payables"]
    none = c.get("/deals?q=nobody-by-this-name")
    assert _keys(none.text) == []
    assert "No deal matches" in none.text


def test_the_deals_page_runs_as_many_queries_for_one_deal_as_for_42(site: Site) -> None:
    one, many = site.client(site.other), site.client(site.owner)
    for c in (one, many):  # plan everything first: the counts compare reading, not planning
        assert c.get("/deals").status_code == 200

    with counting(site) as for_one:
        r1 = one.get("/deals")
    with counting(site) as for_many:
        r42 = many.get("/deals")
    assert len(_keys(r1.text)) == 1 and len(_keys(r42.text)) == 42
    assert len(for_one) == len(for_many), (for_one, for_many)


# --- one deal --------------------------------------------------------------------------------


def test_a_deal_page_shows_the_timeline_the_next_step_and_the_cadence_ahead(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/deals/alder-finch-payables")
    assert page.status_code == 200
    text = html.unescape(page.text)
    # The timeline: every touch, oldest first, with who it was to or from.
    subjects = ["Meet Rahul Mehta", "Payables: next steps", "Payables estimate",
                "How things are going with Rahul", "Your payables process"]  # fmt: skip
    at = [text.index(s) for s in subjects]
    assert at == sorted(at)
    assert "from <strong>Hannah Goldberg</strong>" in text
    # The open step with its why, and the cadence mapped out to the final call.
    cadence = re.search(r'<ol class="cadence">(.*?)</ol>', text, re.S)
    assert cadence
    plays = re.findall(r"<strong>([\w-]+)</strong>", cadence[1])
    assert plays[0] == "progress-check"
    assert plays[-3:] == ["go-for-no", "final-call", "check-back"]
    assert "Mon 04 Jan 2027" in cadence[1]  # dated, one touch a week
    assert "Why:</strong> silent" in text


def test_a_reply_shows_on_the_timeline_with_how_it_reads(site: Site) -> None:
    raw = (
        b"From: Rahul Mehta <rahul.mehta@alderfinch.example.com>\r\n"
        b"To: nora@castellanos-ops.example.com\r\n"
        b"Subject: Re: Your payables process\r\n"
        b"Message-ID: <reply-1@alderfinch.example.com>\r\n"
        b"Date: Mon, 23 Nov 2026 08:30:00 -0500\r\n\r\n"
        b"Sorry for the silence. Could we talk on Thursday at 10?\r\n"
    )
    app = site.app.state.web
    with transaction(site.engine) as s:
        owner = s.scalars(select(m.User.id).where(m.User.email == site.owner)).one()
        ingest(s, raw, now=site.now, playbook=app.playbook, owner_ids=[owner])
    c = site.client(site.owner)
    text = html.unescape(c.get("/deals/alder-finch-payables").text)
    assert "Sorry for the silence. Could we talk on Thursday at 10?" in text
    assert re.search(r"Reads as <strong>(meeting|interested)</strong>", text)
    assert "1 new reply" in text
    timeline = c.get("/api/deals/alder-finch-payables").json()["events"]
    assert any(e.get("reply", {}).get("new_text", "").startswith("Sorry") for e in timeline)


def test_a_proposal_shows_when_it_expires(site: Site) -> None:
    c = site.client(site.owner)
    text = html.unescape(c.get("/deals/marlow-close").text)
    proposal = re.search(r'id="proposal-h">Proposal</h2>(.*?)</section>', text, re.S)
    assert proposal
    assert "36,000 USD" in proposal[1]
    assert re.search(r"expired \d+ days ago", proposal[1])


def test_a_garbage_email_gets_a_field_message_and_nothing_is_stored(site: Site) -> None:
    c = site.client(site.owner)
    before = _contact(site, "keiko")
    data = _contact_form(c, "pinecrest-dental", email="keiko at pinecrest", company="Renamed Co")
    r = c.post("/deals/pinecrest-dental/contact", data=data)
    assert r.status_code == 400
    errors = _field_errors(r.text)
    assert errors["email"].startswith("not an email address")
    assert 'id="contact-email"' in r.text and 'aria-invalid="true"' in r.text
    # What was typed is shown again, to correct; nothing of it is stored.
    assert 'value="keiko at pinecrest"' in r.text and 'value="Renamed Co"' in r.text
    after = _contact(site, "keiko")
    assert (after.email, after.company) == (before.email, before.company) == (
        None, "Pinecrest Dental Partners")  # fmt: skip


def test_a_good_email_is_stored_and_the_deal_replanned(pg_site: Site) -> None:
    site = pg_site
    c = site.client(site.owner)
    c.get("/deals/pinecrest-dental")
    step = _open_step(site, "pinecrest-dental")
    assert step is not None and step.channel == "voicemail"  # no address on file yet
    data = _contact_form(c, "pinecrest-dental", email="Keiko@PinecrestDental.example",
                         phone="(414) 555-0130")  # fmt: skip
    r = c.post("/deals/pinecrest-dental/contact", data=data)
    assert r.status_code == 303
    assert r.headers["location"] == "/deals/pinecrest-dental?done=contact"
    keiko = _contact(site, "keiko")
    assert keiko.email == "Keiko@pinecrestdental.example"
    assert keiko.phone == "+14145550130"  # read as a US number (the owner's), kept as E.164
    after = _open_step(site, "pinecrest-dental")
    assert after is not None and after.id != step.id
    assert after.play == "voicemail-then-email"  # now that an email can follow the call
    page = c.get(r.headers["location"]).text
    assert "Contact saved" in page
    assert "voicemail-then-email" in page


def test_bad_values_in_the_deal_form_are_named_field_by_field(site: Site) -> None:
    c = site.client(site.owner)
    data = _deal_form(c, "alder-finch-payables", title="", proposal_expires_at="12/01/2026",
                      stage="closed")  # fmt: skip
    r = c.post("/deals/alder-finch-payables/edit", data=data)
    assert r.status_code == 400
    errors = _field_errors(r.text)
    assert errors["title"] == "required"
    assert "YYYY-MM-DD" in errors["proposal_expires_at"]
    assert "must be one of" in errors["stage"]
    long = c.post("/deals/alder-finch-payables/edit", data={**data, "title": "x" * 301,
                                                            "stage": "open",
                                                            "proposal_expires_at": ""})  # fmt: skip
    assert long.status_code == 400
    assert _field_errors(long.text) == {"title": "longer than 300 characters"}
    nul = c.post("/deals/alder-finch-payables/edit", data={**data, "title": "Fine",
                                                           "stage": "open", "problem": "a\x00b",
                                                           "proposal_expires_at": ""})  # fmt: skip
    assert nul.status_code == 400
    assert _field_errors(nul.text) == {"problem": "contains control characters"}
    assert _deal(site, "alder-finch-payables").title == "Paperless payables at Alder & Finch"


def test_marking_a_deal_won_lists_it_as_won_with_nothing_planned(site: Site) -> None:
    c = site.client(site.owner)
    data = _deal_form(c, "alder-finch-payables", stage="won", proposal_expires_at="2026-12-15")
    r = c.post("/deals/alder-finch-payables/edit", data=data)
    assert r.status_code == 303
    deal = _deal(site, "alder-finch-payables")
    assert deal.stage == "won" and str(deal.proposal_expires_at) == "2026-12-15"
    assert _open_step(site, "alder-finch-payables") is None
    page = c.get(r.headers["location"]).text
    assert "Deal saved and replanned." in page
    assert "This deal is won: nothing more is planned." in page
    assert "alder-finch-payables" in _keys(c.get("/deals?state=won").text)
    assert "alder-finch-payables" not in _keys(c.get("/deals?state=silent&size=100").text)


def test_script_tags_in_a_name_and_a_title_are_stored_and_shown_escaped(site: Site) -> None:
    c = site.client(site.owner)
    r = c.post("/deals/havelberg-freezers/contact",
               data=_contact_form(c, "havelberg-freezers", name=EVIL_NAME))  # fmt: skip
    assert r.status_code == 303, r.text
    r = c.post("/deals/havelberg-freezers/edit",
               data=_deal_form(c, "havelberg-freezers", title=EVIL_TITLE))  # fmt: skip
    assert r.status_code == 303, r.text
    contact = _contact(site, _deal_contact_key(site, "havelberg-freezers"))
    assert contact.name == EVIL_NAME
    assert _deal(site, "havelberg-freezers").title == EVIL_TITLE

    pages = {
        "deal": c.get("/deals/havelberg-freezers").text,
        "deals": c.get("/deals").text,
        "today": c.get("/today").text,
    }
    for where, page in pages.items():
        assert "<script>alert(" not in page, where
        assert "&lt;script&gt;alert(" in page, where
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; freezers" in pages["today"]
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt; Yıldız" in pages["deals"]


def _deal_contact_key(site: Site, deal: str) -> str:
    with transaction(site.engine) as s:
        contact_id = _deal(site, deal).contact_id
        return s.get_one(m.Contact, contact_id).key


def test_another_members_deal_is_a_404_on_the_page_the_forms_and_the_api(site: Site) -> None:
    c = site.client(site.owner)
    own = c.get("/deals/alder-finch-payables").text
    csrf = csrf_of(own)
    assert c.get("/deals/rival-deal").status_code == 404
    assert "rival-deal" not in _keys(c.get("/deals?size=100").text)
    assert c.post("/deals/rival-deal/edit",
                  data={"csrf": csrf, "title": "Mine now", "stage": "lost",
                        "urgency": "normal"}).status_code == 404  # fmt: skip
    assert c.post("/deals/rival-deal/contact",
                  data={"csrf": csrf, "name": "Mine now"}).status_code == 404  # fmt: skip
    auth = {"Authorization": f"Bearer {site.token(site.owner)}"}
    r = c.patch("/api/deals/rival-deal", json={"title": "Mine now"}, headers=auth)
    assert (r.status_code, r.json()) == (404, {"error": 'no deal "rival-deal"', "status": 404})
    r = c.patch("/api/contacts/rival", json={"name": "Mine now"}, headers=auth)
    assert (r.status_code, r.json()) == (404, {"error": 'no contact "rival"', "status": 404})
    # Nothing of hers changed, and she still sees it, escaped.
    assert _deal(site, "rival-deal", site.other).title == "Rival's <b>secret</b> deal"
    assert _deal(site, "rival-deal", site.other).stage == "open"
    assert _contact(site, "rival", site.other).name.endswith(" Rival")
    theirs = site.client(site.other).get("/deals/rival-deal")
    assert theirs.status_code == 200
    assert "<script>alert(" not in theirs.text and "&lt;script&gt;" in theirs.text
    # And the other way round.
    assert site.client(site.other).get("/deals/alder-finch-payables").status_code == 404


def test_the_patch_api_edits_a_deal_and_a_contact_as_the_forms_do(pg_site: Site) -> None:
    site = pg_site
    c = site.client()
    auth = {"Authorization": f"Bearer {site.token(site.owner)}"}
    r = c.patch("/api/deals/alder-finch-payables",
                json={"urgency": "high", "proposal_expires_at": "2026-12-18"},
                headers=auth)  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["urgency"] == "high" and out["proposal_expires_at"] == "2026-12-18"
    assert out["title"] == "Paperless payables at Alder & Finch"  # untouched
    assert out["state"] == "silent" and out["next"]["play"] == "progress-check"
    # High urgency: three business days, not a week (the next step moved up from Friday).
    assert out["next"]["due"][:10] < "2026-11-27"

    r = c.patch("/api/contacts/rahul", json={"phone": "860 555 0199", "humor_ok": True},
                headers=auth)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+18605550199" and r.json()["humor_ok"] is True

    bad = c.patch("/api/contacts/rahul", json={"email": "nope", "timezone": "Mars/Olympus"},
                  headers=auth)  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("email: not an email address")
    assert "timezone: unknown time zone" in bad.json()["error"]
    assert _contact(site, "rahul").email == "rahul.mehta@alderfinch.example.com"

    assert c.patch("/api/deals/alder-finch-payables", json={"owner": 3},
                   headers=auth).status_code == 422  # fmt: skip
    nul = c.patch("/api/deals/alder-finch-payables", json={"title": "a\x00b"}, headers=auth)
    assert nul.status_code == 422 and nul.json()["error"].startswith("title: ")
    date = c.patch("/api/deals/alder-finch-payables", json={"proposal_expires_at": "2026-02-30"},
                   headers=auth)  # fmt: skip
    assert date.status_code == 422 and date.json()["error"].startswith("proposal_expires_at")


def test_the_log_form_on_a_deal_page_records_the_touch_and_comes_back(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/deals/casco-bay-exam").text
    assert 'name="back" value="/deals/casco-bay-exam"' in page
    r = c.post("/deals/casco-bay-exam/log",
               data={"csrf": csrf_of(page), "channel": "call", "direction": "in",
                     "outcome": "connected", "body": "She called back: budget in January.",
                     "back": "/deals/casco-bay-exam"})  # fmt: skip
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/deals/casco-bay-exam"
    after = html.unescape(c.get(r.headers["location"]).text)
    assert "She called back: budget in January." in after
    assert "Logged" in after
    with transaction(site.engine) as s:
        owner = s.scalars(select(m.User.id).where(m.User.email == site.owner)).one()
        rows, _ = browse.deals_page(s, [owner], search="casco")
    assert rows[0]["state"] == "active"  # contact from the prospect ends the silence
