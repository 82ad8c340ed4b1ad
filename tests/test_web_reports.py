"""The Reports page and GET /api/reports: counts by state, reason, step status and play."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import Site, counting


def _owner_id(site: Site, email: str) -> int:
    with transaction(site.engine) as s:
        found = s.scalar(select(m.User.id).where(m.User.email == email))
        assert found is not None
        return found


def _from_prospect(t: m.Touch) -> bool:
    """CONTRACT: any inbound touch but bounces and auto-replies, and connected calls, held
    meetings."""
    if t.outcome in ("connected", "held"):
        return True
    return t.direction == "in" and t.outcome not in ("bounced", "auto_reply")


def _expected(site: Site, owner_id: int) -> dict[str, Any]:
    """The report's numbers, counted here in Python from the rows themselves."""
    now = site.now
    with transaction(site.engine) as s:
        deals = list(s.scalars(select(m.Deal).where(m.Deal.owner_id == owner_id)))
        ids = [d.id for d in deals]
        steps = list(s.scalars(select(m.Step).where(m.Step.deal_id.in_(ids))))
        touches = list(s.scalars(select(m.Touch).where(m.Touch.deal_id.in_(ids))))
    open_deals = [d for d in deals if d.stage == "open"]
    states = Counter(d.state for d in open_deals)
    reasons = Counter(
        r for d in open_deals if d.state == "silent" for r in (d.assessment or {})["reasons"]
    )
    since = now - timedelta(days=30)
    statuses = Counter(
        st.status
        for st in steps
        if st.status in ("planned", "approved") or (st.done_at is not None and st.done_at >= since)
    )
    # One send per deal, play and (UTC) day: the call and email of one step count once.
    sends: dict[tuple[int, str, Any], datetime] = {}
    for t in touches:
        if t.direction == "out" and t.play:
            key = (t.deal_id, t.play, t.at.date())
            sends[key] = min(sends.get(key, t.at), t.at)
    contact: dict[int, list[datetime]] = defaultdict(list)
    for t in touches:
        if _from_prospect(t):
            contact[t.deal_id].append(t.at)
    plays: dict[str, dict[str, int]] = defaultdict(lambda: {"sent": 0, "answered": 0, "waiting": 0})
    for (deal_id, play, _), at in sends.items():
        answered = any(at <= c <= at + timedelta(days=14) for c in contact[deal_id])
        plays[play]["sent"] += 1
        plays[play]["answered"] += answered
        plays[play]["waiting"] += not answered and at > now - timedelta(days=14)
    return {
        "states": {k: v for k, v in states.items()},
        "reasons": dict(reasons),
        "statuses": dict(statuses),
        "plays": dict(plays),
    }


def _got(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "states": {
            (None if r["state"] == "unplanned" else r["state"]): r["deals"]
            for r in report["deals"]["by_state"]
            if r["deals"]
        },
        "reasons": {r["reason"]: r["deals"] for r in report["deals"]["by_reason"] if r["deals"]},
        "statuses": {r["status"]: r["steps"] for r in report["steps"]["by_status"] if r["steps"]},
        "plays": {
            p["play"]: {"sent": p["sent"], "answered": p["answered"], "waiting": p["waiting"]}
            for p in report["plays"]
        },
    }


def _history(site: Site) -> None:
    """Give the sample some answers, inside and outside the 14 days, and finished steps."""
    c = site.client(site.owner)
    token = {"Authorization": f"Bearer {site.token(site.owner)}"}
    with transaction(site.engine) as s:
        rows = s.execute(
            select(m.Touch.at, m.Touch.play)
            .join(m.Deal, m.Deal.id == m.Touch.deal_id)
            .where(m.Deal.key == "pioneer-valley-parts", m.Touch.play.is_not(None))
            .order_by(m.Touch.at)
        ).all()
    first, final = rows[0], rows[-1]
    assert (first.play, final.play) == ("transparent-check-in", "final-call")
    # An answer three days after the first check-in; another 20 days after the final call.
    for at in (first.at + timedelta(days=3), final.at + timedelta(days=20)):
        r = c.post(
            "/api/deals/pioneer-valley-parts/touches",
            json={
                "channel": "email",
                "direction": "in",
                "outcome": "replied",
                "at": at.isoformat(),
            },
            headers=token,
        )
        assert r.status_code == 201, r.text
    # Today: one step done by hand and then answered at once; one skipped.
    items = [i for i in c.get("/api/today").json()["items"] if i["kind"] == "step"]
    done, skipped = items[0], next(i for i in items[1:] if i["deal"] != items[0]["deal"])
    assert c.post(f"/api/steps/{done['step_id']}/done", headers=token).status_code == 200
    assert c.post(f"/api/steps/{skipped['step_id']}/skip", headers=token).status_code == 200
    r = c.post(
        f"/api/deals/{done['deal']}/touches",
        json={"channel": "call", "direction": "out", "outcome": "connected"},
        headers=token,
    )
    assert r.status_code == 201, r.text


def test_report_numbers_match_counts_made_from_the_database(pg_site: Site) -> None:
    site = pg_site
    _history(site)
    c = site.client(site.owner)
    report = c.get("/api/reports").json()
    expected = _expected(site, _owner_id(site, site.owner))
    assert _got(report) == expected
    # The history above shows in the numbers a seller reads.
    plays = {p["play"]: p for p in report["plays"]}
    assert plays["transparent-check-in"]["answered"] >= 1
    assert plays["final-call"]["answered"] == 0  # the answer came 20 days later
    statuses = {r["status"]: r["steps"] for r in report["steps"]["by_status"]}
    assert (statuses["done"], statuses["skipped"]) == (1, 1)
    assert report["totals"]["sent"] == sum(p["sent"] for p in report["plays"])
    answered = sum(p["answered"] for p in report["plays"])
    assert report["totals"]["rate"] == round(answered / report["totals"]["sent"], 3)
    assert report["deals"]["open"] == sum(expected["states"].values())


def test_each_viewer_counts_only_the_deals_they_may_see(site: Site) -> None:
    mine = site.client(site.owner).get("/api/reports").json()["deals"]["open"]
    theirs = site.client(site.other).get("/api/reports").json()
    team = site.client(site.admin).get("/api/reports").json()["deals"]["open"]
    assert theirs["deals"]["open"] == 1
    assert theirs["plays"] == []
    assert team == mine + 1
    # A token answers the same as the session.
    token = {"Authorization": f"Bearer {site.token(site.other)}"}
    assert site.client().get("/api/reports", headers=token).json() == theirs
    assert site.client().get("/api/reports").status_code == 401


def test_the_page_shows_the_same_numbers_as_tables_and_bars(site: Site) -> None:
    c = site.client(site.owner)
    report = c.get("/api/reports").json()
    r = c.get("/reports")
    assert r.status_code == 200
    page = r.text
    assert 'aria-current="page">Reports' in page
    assert "style=" not in page  # the CSP forbids inline styles
    assert "<script" not in page.split("</head>")[1]
    for row in report["deals"]["by_state"]:
        label = row["state"].replace("_", " ").capitalize()
        link = rf'<a href="/deals\?state={row["state"]}">{label}</a></th>'
        assert re.search(rf'{link}\s*<td class="num">{row["deals"]}</td>', page), row
        assert f'max="{report["deals"]["open"]}" value="{row["deals"]}"' in page
    for row in report["deals"]["by_reason"]:
        assert f'<a href="/deals?reason={row["reason"]}">' in page
    for play in report["plays"]:
        assert f'<th scope="row">{play["play"]}</th>' in page
    assert f'<span class="number">{report["deals"]["open"]}</span>' in page
    assert page.count("<meter") >= len(report["deals"]["by_state"]) + len(report["plays"])


def test_the_query_count_does_not_grow_with_the_number_of_deals(site: Site) -> None:
    one = site.client(site.other)  # one deal
    many = site.client(site.owner)  # 42 deals
    counts = {}
    for name, c in (("one", one), ("many", many)):
        assert c.get("/reports").status_code == 200  # plans what was never planned
        for path in ("/reports", "/api/reports"):
            with counting(site) as seen:
                assert c.get(path).status_code == 200
            counts[name, path] = len(seen)
    assert counts["one", "/reports"] == counts["many", "/reports"]
    assert counts["one", "/api/reports"] == counts["many", "/api/reports"]
    assert counts["many", "/api/reports"] <= 12
