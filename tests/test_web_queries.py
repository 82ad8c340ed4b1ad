"""No page costs more SQL statements for an owner with many deals than for one with one,
and Today comes a page at a time, in the same order as the whole agenda.

Two owners are added to the sample workspace from bench/generate.py's generator: one with a
single open deal, one with `MANY` (more than a page of the deals list), the first deal the
same for both. Each signs in, opens every GET route once (planning everything, so both are
in steady state), then opens each again while the statements are counted. A count that
grows with the deals is an N+1: a query run per deal, per item or per row.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from unghost.services import agenda, users
from unghost.services.workspace import import_document
from unghost.store.db import transaction
from unghost.web.pages import TODAY_PAGE
from web_helpers import PASSWORD, Site, counting
from web_routes import Owned, Route, routes

MANY = 120  # more than a page of the deals list (50), and of Today (25)
ONE, LOTS = "one-deal@bench.example", "many-deals@bench.example"


def generated(deals: int, owner: str) -> dict[str, Any]:
    """A workspace of `deals` open deals from bench/generate.py (seeded: deal d0 is the
    same whatever the count)."""
    path = Path(__file__).resolve().parent.parent / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc: dict[str, Any] = module.workspace(deals, 6)
    doc["owner"]["email"] = owner
    return doc


@pytest.fixture
def owners(site: Site) -> tuple[Owned, Owned]:
    """The owner of one deal and the owner of `MANY`, signed-up, their deals planned."""
    for email, deals in ((ONE, 1), (LOTS, MANY)):
        import_document(site.engine, generated(deals, email))
        with transaction(site.engine) as s:
            users.add_user(s, email, password=PASSWORD, hasher=users.password_hasher(site.settings))
    return Owned.of(site, ONE, deal="d0"), Owned.of(site, LOTS, deal="d0")


def pages(site: Site) -> list[Route]:
    """Every GET route a member opens (an admin's pages span every owner: not compared)."""
    return [r for r in routes(site.app) if r.method == "GET" and not r.admin_only]


def test_no_page_runs_more_queries_for_an_owner_with_more_deals(
    site: Site, owners: tuple[Owned, Owned]
) -> None:
    table = pages(site)
    assert {"GET /today", "GET /api/today"} <= {str(r) for r in table}
    seen: dict[str, list[Counter[str]]] = {str(r): [] for r in table}
    for owned in owners:
        client = site.client(owned.email)
        for route in table:  # once to plan and warm up
            assert client.get(owned.url(route)).status_code < 400, route
        for route in table:
            with counting(site) as statements:
                r = client.get(owned.url(route))
            assert r.status_code < 400, f"{route}: {r.status_code}"
            seen[str(route)].append(Counter(statements))
    grown = []
    for name, (one, many) in seen.items():
        if one.total() != many.total():
            extra = "\n    ".join(f"{n}x {s[:160]}" for s, n in (many - one).items())
            grown.append(f"{name}: {one.total()} statements for 1 deal, "
                         f"{many.total()} for {MANY}:\n    {extra}")  # fmt: skip
    assert not grown, "\n".join(grown)


def test_the_owner_with_many_deals_really_has_a_fuller_today(
    site: Site, owners: tuple[Owned, Owned]
) -> None:
    # The comparison above means something only if the pages differ in size.
    one, many = (site.client(o.email).get("/api/today").json()["items"] for o in owners)
    assert len(one) <= 1 < 5 < len(many)


def whole_agenda(site: Site, email: str) -> list[dict[str, Any]]:
    """Every item due today for this user, in order, as the CLI's `today` has them."""
    app = site.app.state.web
    with transaction(site.engine) as s:
        user = users.get_user(s, email)
        items: list[dict[str, Any]] = agenda.today(
            s, [user.id], site.now, playbook=app.playbook, replan="stale"
        )["items"]
        return items


def test_the_api_gives_today_in_pages_that_add_up_to_the_whole_agenda(
    site: Site, owners: tuple[Owned, Owned]
) -> None:
    # The sample's owner has replies, missed meetings and questions, which rank first/last;
    # the owner of many deals has more due than fits a page.
    assert Owned.of(site, site.owner).reply_id  # a reply, to rank first
    for email in (site.owner, LOTS):
        whole = whole_agenda(site, email)
        client = site.client(email)
        pages, cursor = [], None
        while True:
            r = client.get(
                "/api/today", params={"limit": 7, **({"cursor": cursor} if cursor else {})}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total"] == len(whole)
            pages.append(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert [i for page in pages for i in page] == whole
        assert all(len(page) == 7 for page in pages[:-1])
    assert {i["kind"] for i in whole_agenda(site, site.owner)} >= {"reply", "step"}


def test_the_today_page_shows_a_page_of_items_and_links_to_the_next(
    site: Site, owners: tuple[Owned, Owned]
) -> None:
    whole = whole_agenda(site, LOTS)
    assert len(whole) > 2 * TODAY_PAGE
    client = site.client(LOTS)
    first = client.get("/today")
    assert first.status_code == 200
    assert f"{len(whole)} things to do" in first.text
    assert first.text.count('class="card item') == TODAY_PAGE
    assert f'href="/today?start={TODAY_PAGE}"' in first.text
    assert f"1–{TODAY_PAGE} of {len(whole)}" in first.text
    second = client.get(f"/today?start={TODAY_PAGE}")
    assert second.status_code == 200
    # The second page starts where the first ended: its first step is the agenda's 26th.
    step = f'action="/steps/{whole[TODAY_PAGE]["step_id"]}/send"'
    assert step in second.text
    assert step not in first.text
    assert 'href="/today?start=0"' in second.text
    # Past the end (the list got shorter since): back to the first page.
    beyond = client.get(f"/today?start={len(whole) + 100}")
    assert beyond.status_code == 303
    assert beyond.headers["location"] == "/today"
