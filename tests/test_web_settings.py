"""The Settings page and /api/settings: profile and working hours, mailboxes, API tokens,
the TOTP second factor, and the team for admins."""

from __future__ import annotations

import html
import re
from datetime import datetime, time
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from unghost.services import websessions
from unghost.services.mailboxes import MailboxSpec, add_mailbox
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import PASSWORD, Site, csrf_of

GOOD = {
    "name": "Nora Castellanos",
    "phone": "+1 617 555 0123",
    "signature": "Nora\nCastellanos Operations Advisory",
    "postal_address": "1 Main St, Boston MA 02110",
    "timezone": "America/New_York",
    "country": "US",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "working_start": "09:00",
    "working_end": "17:00",
}


def _user(site: Site, email: str) -> m.User:
    with transaction(site.engine) as s:
        user = s.scalar(select(m.User).where(m.User.email == email))
        assert user is not None
        s.expunge(user)
        return user


def _columns(user: m.User) -> dict[str, Any]:
    return {c.key: getattr(user, c.key) for c in m.User.__table__.columns}


def _page(c: TestClient) -> tuple[str, str]:
    r = c.get("/settings")
    assert r.status_code == 200
    return r.text, csrf_of(r.text)


def _open_dues(site: Site, email: str) -> dict[int, datetime]:
    """deal id → due time of its open step."""
    with transaction(site.engine) as s:
        rows = s.execute(
            select(m.Step.deal_id, m.Step.due)
            .join(m.Deal, m.Deal.id == m.Step.deal_id)
            .join(m.User, m.User.id == m.Deal.owner_id)
            .where(m.User.email == email, m.Step.status.in_(("planned", "approved")))
        ).all()
    return {deal_id: due for deal_id, due in rows}


# -- profile -------------------------------------------------------------------------------


def test_the_profile_form_shows_what_is_stored(site: Site) -> None:
    page, _ = _page(site.client(site.owner))
    assert 'value="Nora Castellanos"' in page
    assert 'value="America/New_York"' in page
    assert 'value="09:00"' in page and 'value="17:00"' in page
    for day in ("mon", "tue", "wed", "thu", "fri"):
        assert f'value="{day}" checked' in page
    assert 'value="sat" checked' not in page
    assert "style=" not in page


def test_bad_fields_get_their_own_messages_and_nothing_is_stored(site: Site) -> None:
    c = site.client(site.owner)
    before = _columns(_user(site, site.owner))
    dues = _open_dues(site, site.owner)
    _, token = _page(c)
    bad = {
        **GOOD,
        "csrf": token,
        "name": "<script>alert(1)</script>",
        "timezone": "Mars/Olympus",
        "working_start": "17:00",
        "working_end": "09:00",
        "signature": "x" * 2001,
        "country": "ZZ",
    }
    del bad["working_days"]  # no box ticked
    r = c.post("/settings/profile", data=bad)
    assert r.status_code == 400
    page = r.text
    messages = dict(re.findall(r'<p class="field-error" data-field="(\w+)"[^>]*>([^<]+)</p>', page))
    assert "unknown time zone" in messages["timezone"]
    assert messages["working_hours"] == "the end must come after the start"
    assert messages["working_days"] == "choose at least one working day"
    assert messages["name"] == "may not contain &lt; or &gt;"
    assert "longer than 2000 characters" in messages["signature"]
    assert "unknown country code" in messages["country"]
    assert "Nothing was saved" in page
    # What was typed stays in the form, escaped.
    assert 'value="Mars/Olympus"' in page
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert "<script>alert(1)" not in page
    assert _columns(_user(site, site.owner)) == before
    assert _open_dues(site, site.owner) == dues


def test_a_wrong_time_of_day_or_phone_is_a_field_message(site: Site) -> None:
    c = site.client(site.owner)
    _, token = _page(c)
    r = c.post(
        "/settings/profile",
        data={**GOOD, "csrf": token, "working_start": "25:00", "phone": "call me maybe"},
    )
    assert r.status_code == 400
    assert "the start: must be a time of day HH:MM" in r.text
    assert "not a phone number" in r.text


def test_a_good_profile_is_stored_and_the_open_deals_are_replanned(site: Site) -> None:
    c = site.client(site.owner)
    c.get("/today")  # every open deal planned
    before = _open_dues(site, site.owner)
    tz = _user(site, site.owner).timezone
    assert any(due.astimezone(_zone(tz)).time() < time(13, 0) for due in before.values())
    _, token = _page(c)
    change = {**GOOD, "csrf": token, "working_start": "13:00", "working_end": "17:30"}
    change["working_days"] = ["mon", "wed", "fri"]
    change["signature"] = "Nora — Castellanos Ops"
    r = c.post("/settings/profile", data=change)
    assert r.status_code == 303
    assert r.headers["location"] == "/settings?done=profile"
    assert "Profile saved" in c.get(r.headers["location"]).text
    user = _user(site, site.owner)
    assert (user.working_start, user.working_end) == ("13:00", "17:30")
    assert user.working_days == "mon,wed,fri"
    assert user.signature == "Nora — Castellanos Ops"
    assert user.phone == "+16175550123"
    after = _open_dues(site, site.owner)
    assert after != before
    for due in after.values():
        local = due.astimezone(_zone(tz))
        assert time(13, 0) <= local.time() <= time(17, 30), local
        assert local.strftime("%a") in ("Mon", "Wed", "Fri"), local


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_a_profile_post_without_the_form_token_is_refused(site: Site) -> None:
    c = site.client(site.owner)
    before = _columns(_user(site, site.owner))
    r = c.post("/settings/profile", data={**GOOD, "name": "Someone Else"})
    assert r.status_code == 403
    assert _columns(_user(site, site.owner)) == before


def test_the_api_reads_and_patches_the_profile_with_the_same_checks(site: Site) -> None:
    headers = {"Authorization": f"Bearer {site.token(site.other)}"}
    c = site.client()
    got = c.get("/api/settings", headers=headers).json()
    assert got["email"] == site.other
    assert got["timezone"] == "Europe/London"
    assert got["totp"] is False and got["admin"] is False
    bad = c.patch(
        "/api/settings",
        json={"timezone": "Europe/Atlantis", "working_hours": ["18:00", "08:00"]},
        headers=headers,
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["status"] == 400
    assert "timezone: unknown time zone" in body["error"]
    assert "working_hours: the end must come after the start" in body["error"]
    assert c.get("/api/settings", headers=headers).json() == got
    nul = c.patch("/api/settings", json={"signature": "Mina\u0000Okafor"}, headers=headers)
    assert nul.status_code == 400
    assert nul.json()["error"] == "signature: may not contain control characters"
    assert (
        c.patch("/api/settings", json={"email": "x@y.example"}, headers=headers).status_code == 422
    )
    ok = c.patch(
        "/api/settings",
        json={"working_days": ["mon", "tue"], "working_hours": ["08:30", "16:00"], "country": "ie"},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["working_days"] == ["mon", "tue"]
    assert ok.json()["working_hours"] == ["08:30", "16:00"]
    assert ok.json()["country"] == "IE"
    assert ok.json()["name"] == got["name"]  # left out, left alone
    assert c.get("/api/settings").status_code == 401


# -- mailboxes and the team -----------------------------------------------------------------


def test_the_mailbox_is_listed_without_its_password(site: Site) -> None:
    with transaction(site.engine) as s:
        add_mailbox(
            s,
            site.app.state.web.key,
            MailboxSpec(
                email=site.owner,
                smtp_host="smtp.castellanos.example",
                imap_host="imap.castellanos.example",
            ),
            password="hunter2-very-secret",
            now=site.now,
        )
    page, _ = _page(site.client(site.owner))
    assert "smtp.castellanos.example" in page
    assert "imap.castellanos.example" in page
    assert "hunter2" not in page
    assert "unghost mailbox add" in page
    # Another member sees no mailbox of hers, and not this one.
    other, _ = _page(site.client(site.other))
    assert "smtp.castellanos.example" not in other
    assert "No mailbox yet" in other


def test_admins_see_the_team_and_members_do_not(site: Site) -> None:
    admin, _ = _page(site.client(site.admin))
    assert 'id="team"' in admin
    for email in (site.owner, site.other, site.admin):
        assert email in admin
    assert "member" in admin and "admin" in admin
    member, _ = _page(site.client(site.owner))
    assert 'id="team"' not in member
    assert site.other not in member


# -- API tokens ----------------------------------------------------------------------------


def test_a_new_token_is_shown_once_works_and_stops_when_revoked(site: Site) -> None:
    c = site.client(site.owner)
    _, token = _page(c)
    r = c.post("/settings/tokens", data={"csrf": token, "name": "CRM sync"})
    assert r.status_code == 200
    found = re.search(r'id="new-token" class="secret" value="(ug_[^"]+)"', r.text)
    assert found, "the new token is on the page"
    secret = found[1]
    assert "Copy your new token now" in r.text
    page, token = _page(c)
    assert secret not in page  # shown once only
    assert "CRM sync" in page
    prefix = secret[:11]
    assert f"<code>{prefix}…</code>" in page
    bearer = {"Authorization": f"Bearer {secret}"}
    assert site.client().get("/api/today", headers=bearer).status_code == 200
    assert "never" not in _page(c)[0].split(prefix)[1].split("</tr>")[0]  # last use shown
    r = c.post(f"/settings/tokens/{prefix}/revoke", data={"csrf": token})
    assert r.status_code == 303
    assert "Token revoked" in c.get(r.headers["location"]).text
    answer = site.client().get("/api/today", headers=bearer)
    assert answer.status_code == 401
    assert answer.json()["status"] == 401
    assert prefix not in _page(c)[0]


def test_another_users_token_cannot_be_revoked(site: Site) -> None:
    theirs = site.token(site.other)
    c = site.client(site.owner)
    _, token = _page(c)
    r = c.post(f"/settings/tokens/{theirs[:11]}/revoke", data={"csrf": token})
    assert r.status_code == 404
    assert theirs[:11] not in r.text or "no live token" in r.text
    bearer = {"Authorization": f"Bearer {theirs}"}
    assert site.client().get("/api/today", headers=bearer).status_code == 200
    # Even an admin revokes only her own from this page.
    admin = site.client(site.admin)
    r = admin.post(f"/settings/tokens/{theirs[:11]}/revoke", data={"csrf": _page(admin)[1]})
    assert r.status_code == 404
    assert site.client().get("/api/today", headers=bearer).status_code == 200


def test_a_token_name_with_markup_is_refused_with_a_message(site: Site) -> None:
    c = site.client(site.owner)
    _, token = _page(c)
    r = c.post("/settings/tokens", data={"csrf": token, "name": "<b>bold</b>"})
    assert r.status_code == 400
    assert "may not contain &lt; or &gt;" in r.text
    assert 'id="new-token"' not in r.text
    with transaction(site.engine) as s:
        assert s.scalars(select(m.ApiToken)).first() is None


# -- the second factor ---------------------------------------------------------------------


def _setup(c: TestClient) -> tuple[str, str, str]:
    """Start setting up TOTP: the page, the secret it shows, the sealed field."""
    _, token = _page(c)
    r = c.post("/settings/totp/setup", data={"csrf": token})
    assert r.status_code == 200
    uri = html.unescape(re.search(r'href="(otpauth://[^"]+)"', r.text)[1])  # type: ignore[index]
    secret = re.search(r"secret=([A-Z2-7]+)", uri)[1]  # type: ignore[index]
    sealed = re.search(r'name="sealed" value="([^"]+)"', r.text)[1]  # type: ignore[index]
    assert uri.startswith("otpauth://totp/unghost:")
    return r.text, secret, sealed


def test_enabling_totp_needs_a_right_code_then_sign_in_asks_for_one(site: Site) -> None:
    c = site.client(site.owner)
    page, secret, sealed = _setup(c)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    token = csrf_of(page)
    wrong = c.post(
        "/settings/totp/enable", data={"csrf": token, "sealed": sealed, "code": "123456"}
    )
    assert wrong.status_code == 400
    assert "that code does not match the new secret" in wrong.text
    assert _user(site, site.owner).totp_secret is None
    # The same secret is offered again, so the next code from the app works.
    assert secret in html.unescape(wrong.text)
    code = pyotp.TOTP(secret).at(site.now)
    right = c.post("/settings/totp/enable", data={"csrf": token, "sealed": sealed, "code": code})
    assert right.status_code == 303
    assert "Two-step sign-in is on" in c.get(right.headers["location"]).text
    assert _user(site, site.owner).totp_secret is not None
    assert secret not in (_user(site, site.owner).totp_secret or "")  # stored sealed
    assert c.get("/api/settings").json()["totp"] is True
    # Signing in now asks for the code, and only a right one completes it.
    fresh = site.client()
    r = fresh.post("/login", data={"email": site.owner, "password": PASSWORD})
    assert r.headers["location"].startswith("/login/code")
    assert fresh.get("/today").status_code == 303
    form = fresh.get("/login/code").text
    bad = fresh.post("/login/code", data={"code": "000000", "csrf": csrf_of(form)})
    assert bad.status_code == 400
    assert fresh.get("/today").status_code == 303
    good = fresh.post("/login/code", data={"code": code, "csrf": csrf_of(form)})
    assert good.status_code == 303
    assert fresh.get("/today").status_code == 200


def test_the_pending_secret_cannot_be_forged_or_borrowed(site: Site) -> None:
    c = site.client(site.owner)
    page, secret, sealed = _setup(c)
    token = csrf_of(page)
    mine = pyotp.random_base32()
    forged = site.app.state.web.key.seal(mine)  # sealed, but not as a setup of this user
    for fake in ("", "not-sealed-at-all", sealed[:-4] + "AAAA", forged):
        r = c.post(
            "/settings/totp/enable",
            data={"csrf": token, "sealed": fake, "code": pyotp.TOTP(mine).at(site.now)},
        )
        assert r.status_code == 400
        assert "this setup has expired" in r.text
    # Another member cannot confirm the owner's pending secret as her own.
    other = site.client(site.other)
    r = other.post(
        "/settings/totp/enable",
        data={"csrf": _page(other)[1], "sealed": sealed, "code": pyotp.TOTP(secret).at(site.now)},
    )
    assert r.status_code == 400
    assert _user(site, site.owner).totp_secret is None
    assert _user(site, site.other).totp_secret is None


def _turn_on(site: Site, c: TestClient) -> str:
    page, secret, sealed = _setup(c)
    code = pyotp.TOTP(secret).at(site.now)
    r = c.post(
        "/settings/totp/enable", data={"csrf": csrf_of(page), "sealed": sealed, "code": code}
    )
    assert r.status_code == 303
    return secret


def test_turning_totp_off_needs_the_password(site: Site) -> None:
    c = site.client(site.owner)
    _turn_on(site, c)
    page, token = _page(c)
    assert "Turn off" in page
    empty = c.post("/settings/totp/disable", data={"csrf": token, "password": ""})
    assert empty.status_code == 400
    assert "enter your password" in empty.text
    wrong = c.post("/settings/totp/disable", data={"csrf": token, "password": "not it at all"})
    assert wrong.status_code == 400
    assert "that password is not right" in wrong.text
    assert _user(site, site.owner).totp_secret is not None
    r = c.post("/settings/totp/disable", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 303
    assert _user(site, site.owner).totp_secret is None
    signed = site.client().post("/login", data={"email": site.owner, "password": PASSWORD})
    assert signed.headers["location"] == "/today"


def test_five_wrong_codes_throttle_sign_in_even_with_the_right_code(site: Site) -> None:
    secret = _turn_on(site, site.client(site.owner))
    c = site.client()
    c.post("/login", data={"email": site.owner, "password": PASSWORD})
    token = csrf_of(c.get("/login/code").text)
    for _ in range(websessions.MAX_FAILURES_PER_EMAIL):
        assert c.post("/login/code", data={"code": "000000", "csrf": token}).status_code == 400
    r = c.post("/login/code", data={"code": pyotp.TOTP(secret).at(site.now), "csrf": token})
    assert r.status_code == 429
    assert "too many failed sign-ins: try again in 15 minutes" in r.text
    assert c.get("/today").status_code == 303


def test_five_wrong_passwords_when_turning_totp_off_throttle_it(site: Site) -> None:
    c = site.client(site.owner)
    _turn_on(site, c)
    _, token = _page(c)
    for _ in range(websessions.MAX_FAILURES_PER_EMAIL):
        r = c.post("/settings/totp/disable", data={"csrf": token, "password": "guess guess guess"})
        assert r.status_code == 400
    r = c.post("/settings/totp/disable", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 429
    assert "too many failed sign-ins" in r.text
    assert _user(site, site.owner).totp_secret is not None
