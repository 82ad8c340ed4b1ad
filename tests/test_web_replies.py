"""The Replies page and /api/replies: every ingested message, newest first, by kind, with
unmatched ones shown; a reply's intent can be corrected, and only by its owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reply_corpus import DATA, reply_files
from unghost.services import plan as planning
from unghost.services.ingest import ingest
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import Site, csrf_of

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not beside the repo")

TALON = DATA / "mailgun__talon/tests/fixtures/standard_replies"
FLANKER = DATA / "mailgun__flanker/tests/fixtures/messages"
JOSE = "jose.martinez@crumbandco.example.com"  # the contact of the sample's crumb-bakeries


def take(site: Site, email: str, raw: bytes) -> int:
    """Ingest a raw message for the user with this email; the new reply's id."""
    with transaction(site.engine) as s:
        user = s.scalars(select(m.User.id).where(m.User.email == email)).one()
        result = ingest(
            s, raw, now=site.now, playbook=planning.default_playbook(), owner_ids=[user]
        )
        return result.reply_id


def real(path: Path, **swap: str) -> bytes:
    """A real message from the data, with some addresses swapped for the sample's."""
    raw = path.read_bytes()
    for old, new in swap.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


@pytest.fixture
def replies(site: Site) -> dict[str, int]:
    return seed(site)


def seed(site: Site) -> dict[str, int]:
    """Replies of every kind for the sample's owner, and one for the other member."""
    return {
        # Megan One's "Hello" from Gmail, sent as José: matched to his deal by address.
        "person": take(site, site.owner, real(TALON / "gmail.eml", **{"xxx@gmail.com": JOSE})),
        # The same client's reply from an address nobody knows: no deal.
        "unmatched": take(site, site.owner, real(TALON / "outlook.eml")),
        # Gmail's "address not found" for José's address: a hard bounce on his deal.
        "bounce": take(
            site,
            site.owner,
            real(
                FLANKER / "bounce/gmail-invalid-address.eml",
                **{"awfawfawfawfawfaw@someserverhere.com": JOSE},
            ),
        ),
        "receipt": take(site, site.owner, real(FLANKER / "disposition-notification.eml")),
        "rival": take(
            site,
            site.other,
            real(TALON / "apple_mail.eml", **{"xxx@gmail.com": "rival@rival.example"}),
        ),
    }


def api(site: Site, email: str) -> tuple[TestClient, dict[str, str]]:
    return site.client(), {"Authorization": f"Bearer {site.token(email)}"}


def stored(site: Site, reply_id: int) -> m.Reply:
    with transaction(site.engine) as s:
        return s.get_one(m.Reply, reply_id)


def test_the_replies_page_lists_every_kind_including_unmatched_ones(
    site: Site, replies: dict[str, int]
) -> None:
    r = site.client(site.owner).get("/replies")

    assert r.status_code == 200
    html = r.text
    for kind in ("person", "unmatched", "bounce", "receipt"):
        assert f'id="reply-{replies[kind]}"' in html, kind
    assert f'id="reply-{replies["rival"]}"' not in html and "Rival" not in html
    assert "José Martínez" in html and 'href="/deals/crumb-bakeries"' in html
    assert '<span class="tag unmatched"' in html
    assert "hard bounce" in html and "the address does not work" in html
    assert "<blockquote>Hello</blockquote>" in html  # the new text, without the quote


def test_the_api_lists_replies_newest_first_and_narrows_them_by_kind(pg_site: Site) -> None:
    site, replies = pg_site, seed(pg_site)
    client, auth = api(site, site.owner)

    every = client.get("/api/replies", headers=auth).json()
    # All came in "now" (their Date headers are years old): the newest ingested first.
    ids = [r["id"] for r in every["replies"]]
    assert ids == sorted(ids, reverse=True)
    assert set(ids) == {replies[k] for k in ("person", "unmatched", "bounce", "receipt")}
    person = next(r for r in every["replies"] if r["id"] == replies["person"])
    assert (person["kind"], person["deal"], person["contact"]) == (
        "person",
        "crumb-bakeries",
        "jose",
    )
    assert person["from"] == JOSE and person["new_text"] == "Hello" and person["intent"]

    def kinds(kind: str) -> set[int]:
        page = client.get(f"/api/replies?kind={kind}", headers=auth)
        assert page.status_code == 200, page.text
        return {r["id"] for r in page.json()["replies"]}

    assert kinds("person") == {replies["person"], replies["unmatched"]}
    assert kinds("bounce") == {replies["bounce"]}
    assert kinds("auto_reply") == {replies["receipt"]}
    assert kinds("unmatched") == {replies["unmatched"], replies["receipt"]}
    bounce = next(r for r in every["replies"] if r["id"] == replies["bounce"])
    assert bounce["bounce"] == {"recipient": JOSE, "status": "5.1.0", "hard": True}
    assert client.get("/api/replies?kind=spam", headers=auth).status_code == 422


def test_replies_come_in_pages_that_neither_repeat_nor_skip(pg_site: Site) -> None:
    site = pg_site
    made: set[int] = set()
    for path in reply_files():  # some files hold the same message: ingested once
        made.add(take(site, site.owner, path.read_bytes()))
        if len(made) == 40:
            break
    client, auth = api(site, site.owner)

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = f"?cursor={cursor}" if cursor else ""
        page = client.get(f"/api/replies{query}", headers=auth).json()
        seen += [r["id"] for r in page["replies"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 2
    assert seen == sorted(made, reverse=True)
    html = site.client(site.owner).get("/replies").text
    assert "Older replies" in html

    bad = client.get("/api/replies?cursor=not-a-cursor", headers=auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("cursor:")
    assert site.client(site.owner).get("/replies?cursor=x").status_code == 400


def test_a_correction_is_stored_for_learning(site: Site, replies: dict[str, int]) -> None:
    client = site.client(site.owner)
    csrf = csrf_of(client.get("/replies").text)
    reply = replies["person"]

    r = client.post(f"/replies/{reply}", data={"csrf": csrf, "intent": "meeting"})

    assert r.status_code == 303
    assert r.headers["location"].endswith(f"#reply-{reply}")
    saved = stored(site, reply)
    assert saved.corrected_intent == "meeting" and saved.intent != "meeting"
    page = client.get("/replies?done=corrected").text
    assert "Correction recorded" in page and "you said <strong>meeting (a time)</strong>" in page

    api_client, auth = api(site, site.owner)
    out = api_client.post(f"/api/replies/{reply}", json={"intent": "not_now"}, headers=auth)
    assert out.status_code == 200
    assert out.json()["corrected_intent"] == "not_now" and out.json()["id"] == reply
    assert stored(site, reply).corrected_intent == "not_now"


def test_an_unknown_intent_is_refused_with_a_message_by_the_field(
    site: Site, replies: dict[str, int]
) -> None:
    client = site.client(site.owner)
    csrf = csrf_of(client.get("/replies").text)
    reply = replies["person"]

    for intent in ("<script>alert(1)</script>", "", "maybe"):
        r = client.post(f"/replies/{reply}", data={"csrf": csrf, "intent": intent})
        assert r.status_code == 400
        assert 'class="field-error" data-field="intent"' in r.text
        assert "must be one of interested, meeting" in r.text
        assert "<script>alert(1)" not in r.text
    assert stored(site, reply).corrected_intent is None

    api_client, auth = api(site, site.owner)
    out = api_client.post(f"/api/replies/{reply}", json={"intent": "maybe"}, headers=auth)
    assert out.status_code == 400 and out.json()["error"].startswith("intent: must be one of")
    wrong_type = api_client.post(f"/api/replies/{reply}", json={"intent": 3}, headers=auth)
    assert wrong_type.status_code == 422


def test_another_owners_reply_is_not_found_on_the_page_and_in_the_api(
    site: Site, replies: dict[str, int]
) -> None:
    rival = replies["rival"]
    client = site.client(site.owner)
    csrf = csrf_of(client.get("/replies").text)

    page = client.post(f"/replies/{rival}", data={"csrf": csrf, "intent": "meeting"})
    assert page.status_code == 404 and "Rival" not in page.text

    api_client, auth = api(site, site.owner)
    out = api_client.post(f"/api/replies/{rival}", json={"intent": "meeting"}, headers=auth)
    assert out.status_code == 404 and out.json() == {"error": f"no reply {rival}", "status": 404}
    assert stored(site, rival).corrected_intent is None

    # Its owner may correct it, and an admin sees the whole team's replies.
    other, other_auth = api(site, site.other)
    ok = other.post(f"/api/replies/{rival}", json={"intent": "meeting"}, headers=other_auth)
    assert ok.status_code == 200
    admin, admin_auth = api(site, site.admin)
    seen = {r["id"] for r in admin.get("/api/replies", headers=admin_auth).json()["replies"]}
    assert set(replies.values()) <= seen


def test_replies_need_a_signed_in_user_and_the_form_token(
    site: Site, replies: dict[str, int]
) -> None:
    anonymous = site.client()
    assert anonymous.get("/api/replies").status_code == 401
    assert anonymous.get("/replies").status_code == 303
    client = site.client(site.owner)
    r = client.post(f"/replies/{replies['person']}", data={"intent": "meeting"})
    assert r.status_code == 403
    assert stored(site, replies["person"]).corrected_intent is None


def test_no_replies_yet_says_so(site: Site) -> None:
    r = site.client(site.owner).get("/replies?kind=bounce")
    assert r.status_code == 200 and "No replies of this kind yet" in r.text
