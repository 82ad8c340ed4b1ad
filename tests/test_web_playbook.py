"""The Playbook pages: the plays in order, a template editor with a live preview and tone
warnings, sandboxed rendering, and saving (admins only) that the planner then drafts with."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from unghost.services import plan as planning
from web_helpers import Site, csrf_of, serve

PLAY = "transparent-check-in"  # not a closing play: the tone check allows no pressure
ULTIMATUM = "Reply by Friday or this offer is gone forever."
# Today, Annika Schröder's deal (fernweh-analytics) is due this variant of PLAY.
DEAL, VARIANT = "fernweh-analytics", "2"


def source(name: str = VARIANT, play: str = PLAY) -> str:
    for variant in planning.default_playbook().play(play).variants:
        if variant.id == f"{play}/{name}":
            return Path(variant.path).read_text(encoding="utf-8")
    raise AssertionError(f"no variant {play}/{name}")


def template(subject: str, body: str) -> str:
    """A template source: the subject on line 1, the body from line 3."""
    blocks = ("{% block subject %}", subject, "{% endblock %}\n{% block body %}\n", body)
    return "".join(blocks) + "\n{% endblock %}"


def preview(client: TestClient, csrf: str, text: str, **more: Any) -> dict[str, Any]:
    ask = {"play": PLAY, "source": text, "deal": DEAL, **more}
    r = client.post("/api/playbook/preview", json=ask, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def signed(site: Site, email: str) -> tuple[TestClient, str]:
    client = site.client(email)
    return client, csrf_of(client.get("/playbook").text)


def override(site: Site, name: str = VARIANT, play: str = PLAY) -> Path:
    return site.settings.home / "playbook" / "templates" / play / f"{name}.j2"


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return unescape(found[1])


# -- reading the playbook ---------------------------------------------------------------


def test_the_playbook_page_shows_the_plays_in_cadence_order_with_rules_and_variants(
    site: Site,
) -> None:
    r = site.client(site.owner).get("/playbook")

    assert r.status_code == 200
    order = [p.id for p in planning.default_playbook().plays]
    shown = re.findall(r'id="play-([a-z-]+)"', r.text)
    assert shown == order
    assert "the deal has a referrer or an advocate" in r.text  # ask-referrer's precondition
    assert "4 days after the previous step" in r.text  # personal-concern's spacing
    assert "One touch every <strong>7 days</strong>" in r.text
    assert 'href="/playbook/progress-check/5"' in r.text


def test_the_api_lists_plays_and_variants_in_order(site: Site) -> None:
    token = site.token(site.owner)
    r = site.client().get("/api/playbook", headers={"Authorization": f"Bearer {token}"})

    assert r.status_code == 200
    plays = r.json()["plays"]
    assert [p["id"] for p in plays] == [p.id for p in planning.default_playbook().plays]
    referrer = next(p for p in plays if p["id"] == "ask-referrer")
    assert referrer["to"] == "referrer"
    assert [v["id"] for v in referrer["variants"]] == [f"ask-referrer/{n}" for n in (1, 2, 3)]
    assert referrer["requires"][0]["id"] == "has_referrer"


def test_the_playbook_needs_a_signed_in_user(site: Site) -> None:
    anonymous = site.client()
    assert anonymous.get("/api/playbook").status_code == 401
    assert anonymous.get(f"/playbook/{PLAY}/1").status_code == 303  # to /login
    r = anonymous.post("/api/playbook/preview", json={"play": PLAY, "source": "x"})
    assert r.status_code == 401


# -- the live preview -------------------------------------------------------------------


def test_a_preview_renders_the_variant_for_a_deal_of_the_viewer(site: Site) -> None:
    client, csrf = signed(site, site.owner)

    out = preview(client, csrf, source())

    assert out["error"] is None
    assert out["subject"] == "Where things stand"
    assert out["body"].startswith("Hi Annika,")  # the deal's contact, by first name
    assert "Nora" in out["body"]  # the owner's signature
    assert "{{" not in out["body"]
    assert out["warnings"] == []


def test_the_editor_page_shows_the_source_and_its_preview_for_the_chosen_deal(
    pg_site: Site,
) -> None:
    r = pg_site.client(pg_site.owner).get(f"/playbook/{PLAY}/{VARIANT}?deal={DEAL}")

    assert r.status_code == 200
    assert text_of(r.text, "source") == source()
    assert text_of(r.text, "preview-subject") == "Where things stand"
    assert text_of(r.text, "preview-body").startswith("Hi Annika,")
    assert f'<option value="{DEAL}" selected>' in r.text


def test_an_ultimatum_typed_into_a_template_brings_a_tone_warning_and_removing_it_clears_it(
    site: Site,
) -> None:
    client, csrf = signed(site, site.owner)
    clean = source()
    pushy = clean.replace(
        "Hi {{ recipient.first_name }},", "Hi {{ recipient.first_name }},\n\n" + ULTIMATUM, 1
    )
    assert pushy != clean

    warned = preview(client, csrf, pushy)
    assert ULTIMATUM in warned["body"]
    assert any(w.startswith("ultimatum:") and "by Friday or" in w for w in warned["warnings"])

    cleared = preview(client, csrf, clean)
    assert not any(w.startswith("ultimatum:") for w in cleared["warnings"])


def test_a_closing_play_may_name_a_deadline_without_a_warning(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    text = source("1", "final-call").replace(
        "{% block body %}", "{% block body %}\n" + ULTIMATUM, 1
    )

    out = preview(client, csrf, text, play="final-call")

    assert out["error"] is None and ULTIMATUM in out["body"]
    assert not any(w.startswith("ultimatum:") for w in out["warnings"])


def test_a_preview_of_a_referrer_play_for_a_deal_without_one_borrows_the_sample_referrer(
    site: Site,
) -> None:
    client, csrf = signed(site, site.owner)

    out = preview(client, csrf, source("1", "ask-referrer"), play="ask-referrer")

    assert out["error"] is None
    assert out["body"].startswith("Hi Diane")  # the sample's referrer
    assert any("no referrer" in note for note in out["notes"])


def test_an_unknown_field_is_an_error_naming_its_line_not_a_500(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    broken = template("Hello", "Hi,\n{{ deal.secret }}")

    out = preview(client, csrf, broken)
    assert out["error"] == 'line 4: unknown field "deal.secret"'
    assert out["body"] == ""

    # The same on the page, without script: the editor again, the error by the template.
    r = client.post(
        f"/playbook/{PLAY}/{VARIANT}",
        data={"csrf": csrf, "source": broken, "deal": DEAL, "action": "preview"},
    )
    assert r.status_code == 400
    assert 'line 4: unknown field "deal.secret"' in text_of(r.text, "source-error")
    assert text_of(r.text, "source") == broken


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% set name = '__cla' ~ 'ss__' %}{{ ''[name] }}",
    "{{ ''|attr('__class__') }}",
    '{{ "{0.__class__}".format(1) }}',
    "{{ cycler.__init__.__globals__ }}",
    "{{ self }}{{ config }}{{ request }}",
    "{% include '/etc/passwd' %}",
]


def test_sandbox_escapes_fail_safely(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    for escape in ESCAPES:
        out = preview(client, csrf, template("Hi", escape), play="progress-check")

        assert out["error"] and out["error"].startswith("line 3: "), escape
        assert out["body"] == "" and "class" not in out["subject"], escape


@pytest.mark.parametrize(
    "bomb",
    [
        "{{ 'x' * 10**10 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_a_template_that_would_exhaust_the_server_is_stopped(site: Site, bomb: str) -> None:
    client, csrf = signed(site, site.owner)
    text = template("Hi", bomb)

    out = preview(client, csrf, text, play="progress-check")

    assert out["error"] and ("memory" in out["error"] or "seconds" in out["error"])
    assert preview(client, csrf, source())["error"] is None  # and the next preview works


def test_another_owners_deal_cannot_be_previewed(site: Site) -> None:
    client, csrf = signed(site, site.owner)

    r = client.post(
        "/api/playbook/preview",
        json={"play": PLAY, "source": source(), "deal": "rival-deal"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 404
    assert r.json() == {"error": 'no deal "rival-deal"', "status": 404}

    page = client.get(f"/playbook/{PLAY}/{VARIANT}?deal=rival-deal")
    assert page.status_code == 404
    assert "Rival" not in page.text and 'value="rival-deal"' not in page.text


def test_a_preview_from_the_page_needs_the_csrf_header(site: Site) -> None:
    client = site.client(site.owner)
    r = client.post("/api/playbook/preview", json={"play": PLAY, "source": source()})
    assert r.status_code == 403


def test_script_tags_in_a_template_are_shown_as_text(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    text = template("<script>alert(1)</script>", "<script>alert(2)</script> Is now a good time?")

    r = client.post(
        f"/playbook/{PLAY}/{VARIANT}",
        data={"csrf": csrf, "source": text, "deal": DEAL, "action": "preview"},
    )

    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in r.text


# -- saving -----------------------------------------------------------------------------


def test_a_member_cannot_save_a_template(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    page = client.get(f"/playbook/{PLAY}/{VARIANT}")
    assert "readonly" in page.text and 'value="save"' not in page.text

    r = client.post(
        f"/playbook/{PLAY}/{VARIANT}",
        data={"csrf": csrf, "source": source().replace("Where things", "Changed"), "deal": DEAL},
    )
    assert r.status_code == 403
    assert "Only an admin may change the playbook" in r.text
    assert not override(site).exists()

    token = site.token(site.owner)
    r = site.client().post(
        f"/api/playbook/{PLAY}/{VARIANT}",
        json={"source": source()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403 and r.json()["status"] == 403
    assert not override(site).exists()


def test_an_admin_saves_a_template_and_the_planner_drafts_with_the_new_wording(
    site: Site,
) -> None:
    admin, csrf = signed(site, site.admin)
    new = source().replace("Where things stand", "A fresh look at where things stand")
    new = new.replace(
        "Hi {{ recipient.first_name }},",
        "Hi {{ recipient.first_name }},\n\nA new opening line for you.",
        1,
    )

    r = admin.post(f"/playbook/{PLAY}/{VARIANT}", data={"csrf": csrf, "source": new, "deal": DEAL})

    assert r.status_code == 303, r.text
    assert override(site).read_text(encoding="utf-8") == new
    page = admin.get(r.headers["location"])
    assert "Saved" in page.text and text_of(page.text, "source") == new
    assert 'class="tag edited"' in admin.get("/playbook").text

    owner = site.client(site.owner)
    [step] = [i for i in owner.get("/api/today").json()["items"] if i["deal"] == DEAL]
    assert (step["variant"], step["subject"]) == (
        f"{PLAY}/{VARIANT}",
        "A fresh look at where things stand",
    )
    assert "A new opening line for you." in step["body"]
    assert "A fresh look at where things stand" in owner.get("/today").text


def test_a_template_that_does_not_load_is_refused_and_the_previous_one_kept(site: Site) -> None:
    admin, csrf = signed(site, site.admin)
    good = source().replace("Where things stand", "Kept wording")
    assert (
        admin.post(f"/playbook/{PLAY}/{VARIANT}", data={"csrf": csrf, "source": good}).status_code
        == 303
    )

    broken = good.replace("{% endblock %}", "{{ deal.secret }}{% endblock %}", 1)
    r = admin.post(f"/playbook/{PLAY}/{VARIANT}", data={"csrf": csrf, "source": broken})

    assert r.status_code == 400
    assert 'line 1: unknown field "deal.secret"' in text_of(r.text, "source-error")
    assert override(site).read_text(encoding="utf-8") == good
    assert "Kept wording" in text_of(admin.get(f"/playbook/{PLAY}/{VARIANT}").text, "source")


def test_a_first_save_that_fails_leaves_no_playbook_folder_behind(site: Site) -> None:
    admin, csrf = signed(site, site.admin)
    # This play needs a script block in every variant: the whole playbook would not load.
    without_script = re.sub(r"\{% block script %\}.*?\{% endblock %\}", "", source(), flags=re.S)

    r = admin.post(f"/playbook/{PLAY}/{VARIANT}", data={"csrf": csrf, "source": without_script})

    assert r.status_code == 400
    assert "block script" in text_of(r.text, "source-error")
    assert not (site.settings.home / "playbook").exists()


def test_an_admin_saves_through_the_api(site: Site) -> None:
    token = site.token(site.admin)
    headers = {"Authorization": f"Bearer {token}"}
    new = source().replace("Where things stand", "Through the API")
    client = site.client()

    r = client.post(f"/api/playbook/{PLAY}/{VARIANT}", json={"source": new}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["edited"] is True and r.json()["source"] == new
    assert client.get(f"/api/playbook/{PLAY}/{VARIANT}", headers=headers).json()["source"] == new

    bad = client.post(
        f"/api/playbook/{PLAY}/{VARIANT}", json={"source": "{{ nope }}"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith("source: line 1:")


def test_an_unknown_play_or_variant_is_a_404(site: Site) -> None:
    client, csrf = signed(site, site.owner)
    assert client.get("/playbook/no-such-play/1").status_code == 404
    assert client.get(f"/playbook/{PLAY}/99").status_code == 404
    r = client.post(
        "/api/playbook/preview",
        json={"play": "no-such-play", "source": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 400  # a field of the request, not the resource asked for
    assert r.json()["error"] == 'play: no play "no-such-play" in the playbook'


# -- in a browser ----------------------------------------------------------------------


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_typing_in_the_editor_updates_the_preview_and_the_tone_warnings(site: Site) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with serve(site) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=email]", site.admin)
            page.fill("input[name=password]", "correct horse battery staple")
            page.click("button[type=submit]")
            page.goto(f"{base}/playbook/{PLAY}/{VARIANT}?deal={DEAL}")
            assert page.is_hidden("#preview-warnings")

            editor = page.locator("#source")
            editor.fill(
                source().replace(
                    "Hi {{ recipient.first_name }},",
                    "Hi {{ recipient.first_name }}, " + ULTIMATUM,
                    1,
                )
            )
            page.wait_for_selector("#preview-warnings li:has-text('ultimatum')")
            assert ULTIMATUM in page.inner_text("#preview-body")

            editor.fill(source().replace("{% endblock %}", "{{ deal.secret }}{% endblock %}", 1))
            page.wait_for_selector("#source-error:has-text('unknown field')")

            editor.fill(source())
            page.wait_for_selector("#preview-clean", state="visible")
            assert page.is_hidden("#source-error")
        finally:
            browser.close()
