"""Signing in and out of the web app: passwords, throttling, the TOTP second factor, CSRF."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import func, select

from unghost.services import websessions
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import PASSWORD, Site, csrf_of


def test_pages_need_a_session_and_say_where_to_sign_in(site: Site) -> None:
    c = site.client()
    r = c.get("/today")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/today"
    assert c.get("/api/today").json() == {
        "error": "sign in first: no valid session or API token",
        "status": 401,
    }


def test_wrong_password_and_unknown_address_get_the_same_answer(site: Site) -> None:
    c = site.client()
    wrong = c.post("/login", data={"email": site.owner, "password": "not the password"})
    nobody = c.post("/login", data={"email": "nobody@nowhere.example", "password": PASSWORD})
    for r in (wrong, nobody):
        assert r.status_code == 400
        assert "wrong email or password" in r.text
        assert "unghost_session" not in r.headers.get("set-cookie", "")


def test_empty_fields_get_field_messages(site: Site) -> None:
    r = site.client().post("/login", data={"email": "", "password": ""})
    assert r.status_code == 400
    assert "enter your email" in r.text
    assert "enter your password" in r.text


def test_sign_in_goes_where_asked_but_never_off_site(site: Site) -> None:
    c = site.client()
    data = {"email": site.owner, "password": PASSWORD, "next": "/deals"}
    assert c.post("/login", data=data).headers["location"] == "/deals"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = site.client().post("/login", data={**data, "next": evil})
        assert r.headers["location"] == "/today"


def test_session_cookie_is_httponly_and_samesite(site: Site) -> None:
    r = site.client().post("/login", data={"email": site.owner, "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("unghost_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_five_failures_throttle_the_address_even_with_the_right_password(site: Site) -> None:
    c = site.client()
    for _ in range(websessions.MAX_FAILURES_PER_EMAIL):
        r = c.post("/login", data={"email": site.owner, "password": "nope nope"})
        assert r.status_code == 400
    r = c.post("/login", data={"email": site.owner, "password": PASSWORD})
    assert r.status_code == 429
    assert "too many failed sign-ins" in r.text
    # Another person is not locked out by it.
    ok = site.client().post("/login", data={"email": site.other, "password": PASSWORD})
    assert ok.status_code == 303


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today")
    cookie = c.cookies["unghost_session"]
    r = c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    again = site.client()
    again.cookies.set("unghost_session", cookie)
    assert again.get("/today").status_code == 303  # back to the sign-in page
    with transaction(site.engine) as s:
        assert s.scalar(select(func.count()).select_from(m.WebSession)) == 0


def test_a_post_without_the_form_token_is_refused_and_changes_nothing(site: Site) -> None:
    c = site.client(site.owner)
    page = c.get("/today").text
    step_id = re.search(r"/steps/(\d+)/skip", page)[1]  # type: ignore[index]
    for data in ({}, {"csrf": "forged"}):
        r = c.post(f"/steps/{step_id}/skip", data=data)
        assert r.status_code == 403
        assert "did not come from this app" in r.text
    with transaction(site.engine) as s:
        assert s.get_one(m.Step, int(step_id)).status == "planned"


def test_totp_second_factor(site: Site) -> None:
    secret = pyotp.random_base32()
    with transaction(site.engine) as s:
        user = s.scalar(select(m.User).where(m.User.email == site.owner))
        assert user is not None
        code = pyotp.TOTP(secret).at(site.now)
        websessions.enable_totp(s, user, secret, code, key=site.app.state.web.key, now=site.now)
    c = site.client()
    r = c.post("/login", data={"email": site.owner, "password": PASSWORD})
    assert r.headers["location"].startswith("/login/code")
    assert "unghost_session=" not in r.headers["set-cookie"]
    assert c.get("/today").status_code == 303  # the password alone is not enough
    form = c.get("/login/code")
    assert "Enter your code" in form.text
    token = csrf_of(form.text)
    bad = c.post("/login/code", data={"code": "000000", "csrf": token})
    assert bad.status_code == 400
    assert "that code is not right" in bad.text
    good = c.post("/login/code", data={"code": pyotp.TOTP(secret).at(site.now), "csrf": token})
    assert good.status_code == 303
    assert c.get("/today").status_code == 200
