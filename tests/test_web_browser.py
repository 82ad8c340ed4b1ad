"""The web app in a real browser: Debian's Chromium, driven by Playwright, on loopback.

A seller signs in, works through Today (edits a draft and sends it, logs a call), and signs
out; every page is photographed at desktop and phone width into build/screenshots/ (or
UNGHOST_SCREENSHOTS), one of which the README shows.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from web_helpers import PASSWORD, Site, serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SHOTS = Path(
    os.environ.get("UNGHOST_SCREENSHOTS", Path(__file__).parent.parent / "build/screenshots")
)
WIDTHS = {"desktop": (1280, 860), "phone": (390, 844)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: run scripts/install-test-deps (make test does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/today")
    expect(page).to_have_url(re.compile(r"/login\?next=/today$"))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/today")


def test_a_seller_works_through_today(browser: Browser, site: Site) -> None:
    with serve(site) as base:
        page = browser.new_page()
        sign_in(page, base, site.owner)
        expect(page.locator("h1")).to_have_text("Today")
        # Edit the first email draft in place and send it.
        card = page.locator("li.step.channel-email").first
        step_id = (card.get_attribute("id") or "").removeprefix("step-")
        card.locator("input[name=subject]").fill("Picking this up again")
        card.locator("textarea[name=body]").fill("Hello again.\n\nIs this still on your list?")
        card.locator("[data-action=send]").click()
        expect(page.locator(".notice")).to_have_text("Sent: it is on its way.")
        expect(page.locator(f"#step-{step_id}")).to_have_count(0)
        sent = _sent_subjects(site.settings.outbox_dir, "Picking this up again")
        assert len(sent) == 1
        assert "Is this still on your list?" in sent[0].get_body().get_content()  # type: ignore[union-attr]
        # Log a call's outcome from its card.
        call = page.locator("li.step.channel-call").first
        call.locator("details.log summary").click()
        call.locator("select[name=outcome]").select_option("left_voicemail")
        call.locator("input[name=body]").fill("Left a short message")
        call.locator("details.log button[type=submit]").click()
        expect(page.locator(".notice")).to_have_text("Logged.")
        # Keyboard: j moves to the next item.
        page.keyboard.press("j")
        expect(page.locator(".agenda > .item.current")).to_have_count(1)
        # Sign out: Today is behind the sign-in page again.
        page.click("text=Sign out")
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto(f"{base}/today")
        expect(page).to_have_url(re.compile(r"/login\?next=/today$"))
        page.close()


def test_editing_a_template_updates_the_preview_and_tone_as_you_type(
    browser: Browser, site: Site
) -> None:
    with serve(site) as base:
        page = browser.new_page()
        sign_in(page, base, site.admin)
        page.goto(f"{base}/playbook")
        page.locator("a[href^='/playbook/transparent-check-in/']").first.click()
        expect(page.locator("#preview-subject")).not_to_be_empty()
        expect(page.locator("#preview-clean")).to_be_visible()
        source = page.locator("#source")
        original = source.input_value()
        pushy = "Reply by Friday or this offer is gone for good, and that would be your fault."
        body_at = original.index("{% block body %}") + len("{% block body %}")
        source.fill(original[:body_at] + "\n" + pushy + "\n" + original[body_at:])
        expect(page.locator("#preview-body")).to_contain_text("Reply by Friday")
        expect(page.locator("#preview-warnings li").first).to_be_visible()
        expect(page.locator("#preview-clean")).to_be_hidden()
        source.fill(original)  # back to the playbook's words: the warning goes
        expect(page.locator("#preview-warnings")).to_be_hidden()
        expect(page.locator("#preview-clean")).to_be_visible()
        page.close()


def _sent_subjects(folder: Path, subject: str, timeout: float = 15) -> list[object]:
    deadline = time.monotonic() + timeout
    found: list[object] = []
    while time.monotonic() < deadline and not found:
        for path in folder.glob("*.eml") if folder.exists() else ():
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            if msg["Subject"] == subject:
                found.append(msg)
        time.sleep(0.05)
    return found


def test_screenshots_of_every_page(browser: Browser, site: Site) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(site) as base:
        for width, (w, h) in WIDTHS.items():
            page = browser.new_page(viewport={"width": w, "height": h})
            page.goto(f"{base}/login")
            page.screenshot(path=SHOTS / f"login-{width}.png", full_page=True)
            sign_in(page, base, site.owner)
            paths = [href for href in page.locator("header nav a").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))")]  # fmt: skip
            assert "/today" in paths and len(paths) >= 6
            deal = page.locator("li.item .meta a[href^='/deals/']").first.get_attribute("href")
            for path in [*paths, deal]:
                assert path
                response = page.goto(base + path)
                assert response is not None and response.status == 200, path
                name = path.strip("/").replace("/", "-") or "home"
                page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
                # No page is wider than the screen (readable on a phone).
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= w + 1, f"{path} is {overflow}px wide at {w}px"
            page.close()
    assert (SHOTS / "today-desktop.png").stat().st_size > 10_000
