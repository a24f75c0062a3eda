"""The web chat in a real browser: headless Chromium (the Debian package) driven by Playwright,
against the real index.  Screenshots of every step land in test-artifacts/screenshots/.

Skipped (with the reason) only when /usr/bin/chromium or the playwright package is missing:
    apt-get install chromium        # Debian; Playwright drives it, no browser download
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from test_web import launch

CHROMIUM = os.environ.get("POLICY_ASSISTANT_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "How can an origin-country municipality support the integration of its emigrants abroad?"
CHIP = '#pa-chat a[href^="#pa-c-"]'
TIMEOUT = 60_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def web(assistant, tmp_path_factory):
    from ui.app import build_app
    from ui.feedback import FeedbackStore

    store = FeedbackStore(tmp_path_factory.mktemp("browser") / "feedback.sqlite3")
    app = build_app(assistant, store=store)
    url = launch(app)
    yield url, store
    app.close()


@pytest.fixture(scope="module")
def workshop_web(assistant, tmp_path_factory):
    from ui.app import build_app
    from ui.feedback import FeedbackStore
    from ui.workshop import load_workshop, make_auth

    store = FeedbackStore(tmp_path_factory.mktemp("workshop") / "feedback.sqlite3")
    ws = load_workshop("funding-across-levels", REPO / "knowledge_base" / "workshops")
    app = build_app(assistant, workshop=ws, store=store)
    url = launch(app, auth=make_auth("join-me", "fac-only"))
    yield url, store, ws
    app.close()


def new_page(browser, **kw):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, **kw)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return page


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=True)


def ask(page, question: str) -> None:
    before = page.locator('#pa-chat [data-testid="bot"]').count()
    page.fill("#pa-question textarea", question)
    page.click("#pa-ask")
    # done when a new bot message has appeared and no longer says "Searching the reports…"
    page.wait_for_function(
        """(before) => {
            const bots = document.querySelectorAll('#pa-chat [data-testid="bot"]');
            if (bots.length <= before) return false;
            const t = bots[bots.length - 1].innerText;
            return t.length > 0 && !t.includes('Searching the reports') && !t.includes('▌');
        }""",
        arg=before,
    )


def login(page, url: str, name: str, passcode: str) -> None:
    page.goto(url)
    page.wait_for_selector("input[type=password]")
    page.locator("input:not([type=password])").first.fill(name)
    page.fill("input[type=password]", passcode)
    page.get_by_role("button", name="Login").click()


def test_ask_see_cited_answer_click_a_marker_see_the_passage(browser, web):
    url, store = web
    page = new_page(browser)
    page.goto(url)
    page.wait_for_selector("#pa-question textarea")
    ask(page, QUESTION)
    chips = page.locator(CHIP)
    assert chips.count() >= 2
    # one card per cited passage (two sentences may cite the same passage)
    numbers = {chips.nth(k).inner_text().strip("[] ") for k in range(chips.count())}
    assert page.locator("#pa-sources .pa-card").count() == len(numbers)
    assert page.locator("#pa-sources mark").count() >= 1
    shot(page, "01-answer-with-citation-chips.png")

    second = chips.nth(1)
    n = second.inner_text().strip("[] ")
    second.click()
    page.wait_for_selector(f"#pa-sources >> text=Answer 1, citation [{n}]")
    card = page.locator("#pa-sources .pa-card.pa-selected")
    assert card.count() == 1 and card.locator("mark").count() >= 1
    marked = card.locator("mark").first.inner_text()
    assert marked[:40] in page.locator("#pa-chat").inner_text(), "the highlighted sentence is the one the answer cites"
    assert "lines" in card.inner_text() and ".txt" in card.inner_text()
    shot(page, "02-marker-opens-the-passage.png")

    page.click("#pa-context-btn")
    page.wait_for_selector("#pa-context .pa-context")
    assert page.locator("#pa-context .pa-line.pa-in").count() >= 1
    assert page.locator("#pa-context .pa-line").count() > page.locator("#pa-context .pa-line.pa-in").count()
    shot(page, "03-surrounding-text-of-the-report.png")

    # 👎 with a comment, stored in SQLite
    page.locator('#pa-chat button[aria-label="Dislike"]').last.click()
    page.wait_for_selector("#pa-comment textarea")
    page.fill("#pa-comment textarea", "Please cite the Nador example")
    page.click("#pa-comment-send")
    page.wait_for_selector("#pa-feedback-status >> text=saved")
    votes = [f for f in store.feedback() if f.question == QUESTION]
    assert votes and votes[0].vote == "down" and votes[0].comment == "Please cite the Nador example"

    # export as Markdown with full citations
    page.click("#pa-export")
    link = page.locator("#pa-export-file a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert f"## 1. {QUESTION}" in md and "**Sources**" in md and "Bilgili & Agimi 2015" in md
    shutil.copy(dl.value.path(), SHOTS / "01-exported-conversation.md")
    page.context.close()


def test_html_and_script_in_a_question_stay_inert(browser, web):
    url, _ = web
    page = new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#pa-question textarea")
    attack = (
        '<img src=x id=pwn1 onerror="window.__pwned=1;alert(\'img\')"> '
        "<script>window.__pwned=2;alert('script')</script> "
        '<a href="javascript:alert(3)" id=pwn3>link</a> What is town twinning?'
    )
    ask(page, attack)
    page.wait_for_timeout(500)
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#pwn1, #pwn3, #pa-chat img[src='x'], #pa-chat script, #pa-sources script").count() == 0
    user_text = page.locator('#pa-chat [data-testid="user"]').last.inner_text()
    assert "<img src=x" in user_text and "<script>" in user_text, "the question is shown as text"
    shot(page, "04-xss-attempt-shown-as-text.png")

    ask(page, "too long " * 400)
    assert "too long" in page.locator('#pa-chat [data-testid="bot"]').last.inner_text()
    assert "limit is 2,000" in page.locator('#pa-chat [data-testid="bot"]').last.inner_text()
    shot(page, "05-oversized-question-refused.png")
    page.context.close()


def test_practice_library_and_about_the_sources(browser, web, assistant):
    from ui.library import get_catalogue

    url, _ = web
    page = new_page(browser)
    page.goto(url)
    page.get_by_role("tab", name="Practice library").click()
    if get_catalogue(assistant) is None:
        page.wait_for_selector("#pa-library-list >> text=not available")
    else:
        page.wait_for_selector('#pa-library-list a[href^="#pa-r-"]')
        page.get_by_label("Report").click()
        page.get_by_role("option", name="van Ewijk & Nijenhuis 2016").click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('#pa-library-list a[href^=\"#pa-r-\"]')].every(a => a.innerText.startsWith('van Ewijk'))"
        )
        page.locator('#pa-library-list a[href^="#pa-r-"]').first.click()
        page.wait_for_selector("#pa-library-panel .pa-card mark")
        assert "002_5f0ffbab9fdb2741.txt" in page.locator("#pa-library-panel").inner_text()
        shot(page, "06-practice-library-record-opens-its-passage.png")

    page.get_by_role("tab", name="About the sources").click()
    page.wait_for_selector("#pa-about table")
    assert page.locator("#pa-about tbody tr").count() == len(assistant.reports)
    assert "OSCE/ODIHR 2017" in page.locator("#pa-about").inner_text()
    shot(page, "07-about-the-sources.png")
    page.context.close()


def test_workshop_join_with_passcode_and_facilitator_sees_it_live(browser, workshop_web):
    from playwright.sync_api import expect

    url, store, ws = workshop_web
    amina = new_page(browser)
    login(amina, url, "Amina", "wrong-passcode")
    amina.wait_for_selector("text=Incorrect Credentials")
    shot(amina, "08-workshop-login-wrong-passcode.png")
    login(amina, url, "Amina", "join-me")
    amina.wait_for_selector("#pa-question textarea")
    assert ws.title in amina.locator("body").inner_text()
    expect(amina.locator("#pa-hello")).to_contain_text("Signed in as Amina")
    assert amina.get_by_role("tab", name="Facilitator").count() == 0
    question = ws.scenarios[0].questions[0]
    amina.locator("button", has_text=question[:40]).first.click()  # the scenario's example question
    expect(amina.locator("#pa-question textarea")).to_have_value(question)
    amina.click("#pa-ask")
    amina.wait_for_selector(CHIP)
    shot(amina, "09-workshop-participant-answer.png")

    bram = new_page(browser)
    login(bram, url, "Bram", "join-me")
    bram.wait_for_selector("#pa-question textarea")
    assert bram.locator(CHIP).count() == 0, "each participant's conversation is their own"
    ask(bram, ws.scenarios[1].questions[0])

    fac = new_page(browser)
    login(fac, url, "facilitator", "fac-only")
    fac.wait_for_selector("#pa-fac-q table")
    fac.wait_for_selector("#pa-fac-q >> text=Bram")
    assert question in fac.locator("#pa-fac-q").inner_text()
    # live: feedback given now shows up without a reload
    amina.locator('#pa-chat button[aria-label="Like"]').last.click()
    amina.wait_for_selector("#pa-comment textarea")
    amina.fill("#pa-comment textarea", "Good start for our strategy")
    amina.click("#pa-comment-send")
    fac.wait_for_selector("#pa-fac-fb >> text=Good start for our strategy", timeout=15_000)
    shot(fac, "10-facilitator-live-questions-and-feedback.png")

    fac.click("#pa-fac-export")
    link = fac.locator("#pa-fac-file a").first
    link.wait_for()
    with fac.expect_download() as dl:
        link.click()
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert md.count("## Conversation") == 2 and "Amina" in md and "Bram" in md and "**Sources**" in md
    assert "Good start for our strategy" in md
    shutil.copy(dl.value.path(), SHOTS / "10-workshop-transcripts.md")
    for p in (amina, bram, fac):
        p.context.close()
