"""The web chat in a real browser: headless Chromium (the Debian package) driven by Playwright,
against the real index.  Screenshots of every step land in test-artifacts/screenshots/.

Skipped (with the reason) only when /usr/bin/chromium or the playwright package is missing:
    apt-get install chromium        # Debian; Playwright drives it, no browser download
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from test_web import launch, stop

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
AXE = REPO / "tests" / "vendor" / "axe-core" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0), vendored
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}

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
    stop(app)


@pytest.fixture(scope="module")
def workshop_web(assistant, tmp_path_factory):
    from ui.app import build_app
    from ui.feedback import FeedbackStore
    from ui.workshop import load_workshop

    store = FeedbackStore(tmp_path_factory.mktemp("workshop") / "feedback.sqlite3")
    ws = load_workshop("funding-across-levels", REPO / "knowledge_base" / "workshops")
    app = build_app(assistant, workshop=ws, store=store)
    url = launch(app, passcode="join-me", facilitator_passcode="fac-only")
    yield url, store, ws
    stop(app)


def new_page(browser, viewport=None, **kw):
    context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000}, accept_downloads=True, **kw)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return page


def download(page, button: str, files: str) -> Path:
    """Click the export ``button``, wait for its link in ``files``, download it; the file's path."""
    page.click(button)
    link = page.locator(f"{files} a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    return Path(dl.value.path())


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


def axe_check(page, name: str) -> list[dict]:
    """Run axe-core on the page as it is; keep its findings in the screenshots folder and fail on
    any serious or critical violation (WCAG 2.2 AA rules and best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => (
            {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + '  in #' + ((document.querySelector(n.target[0]) || document.body).closest('[id]') || {}).id + '  ' + n.html.slice(0, 100))}))"""
    )
    (SHOTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {name}: " + json.dumps(bad, indent=1)
    return found


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    vp = page.viewport_size
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= vp["width"] + 1 and box["y"] < vp["height"] and box["height"] > 0


# the same test as in_viewport, in the page: for waiting until it holds
IN_VIEWPORT_JS = """(sel) => {
    const e = document.querySelector(sel);
    if (!e) return false;
    const r = e.getBoundingClientRect();
    return r.height > 0 && r.x >= 0 && r.y >= 0 && r.x + r.width <= window.innerWidth + 1 && r.y < window.innerHeight;
}"""


def focus_inside(page, selector: str) -> bool:
    return page.evaluate("(sel) => !!document.activeElement && !!document.activeElement.closest(sel)", selector)


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

    # a screen reader hears "Source 2: report, section", and the panel (a live region) gets focus
    label = second.get_attribute("aria-label")
    assert label and label.startswith(f"Source {n}: ") and ", " in label
    assert page.locator('#pa-sources [role="region"][aria-live="polite"][aria-label="Sources"]').count() == 1, "a live region"
    assert focus_inside(page, "#pa-sources")
    # keyboard only: Tab to a chip, Enter opens it
    first = chips.nth(0)
    n1 = first.inner_text().strip("[] ")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#pa-sources >> text=Answer 1, citation [{n1}]")
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#pa-sources')")
    axe_check(page, "desktop-chat")

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
    exported = download(page, "#pa-export", "#pa-export-file")
    md = exported.read_text(encoding="utf-8")
    assert f"## 1. {QUESTION}" in md and "**Sources**" in md and "Bilgili & Agimi 2015" in md
    shutil.copy(exported, SHOTS / "01-exported-conversation.md")
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
        page.wait_for_function("() => document.activeElement && document.activeElement.closest('#pa-library-panel')")
        shot(page, "06-practice-library-record-opens-its-passage.png")
        axe_check(page, "desktop-library")

    page.get_by_role("tab", name="About the sources").click()
    page.wait_for_selector("#pa-about table")
    assert page.locator("#pa-about tbody tr").count() == len(assistant.reports)
    assert "OSCE/ODIHR 2017" in page.locator("#pa-about").inner_text()
    assert "Hannes Schammann" in page.locator("#pa-about").inner_text(), "the EPC brief's fourth author"
    shot(page, "07-about-the-sources.png")
    axe_check(page, "desktop-about")
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
    button = amina.locator("button.pa-starter", has_text=question)  # the whole question is shown ...
    assert button.count() == 1 and button.inner_text().strip() == question
    button.click()  # ... and a click asks it
    amina.wait_for_selector(CHIP)
    assert question in amina.locator('#pa-chat [data-testid="user"]').last.inner_text()
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

    exported = download(fac, "#pa-fac-export", "#pa-fac-file")
    md = exported.read_text(encoding="utf-8")
    assert md.count("## Conversation") == 2 and "Amina" in md and "Bram" in md and "**Sources**" in md
    assert "Good start for our strategy" in md
    shutil.copy(exported, SHOTS / "10-workshop-transcripts.md")

    # the facilitator opens Amina's conversation: her answer with its citations, and a chip opens its passage
    fac.get_by_label("Open a participant's conversation").click()
    fac.get_by_role("option", name=re.compile(r"^Amina — ")).click()
    fac.wait_for_selector('#pa-fac-chat a[href^="#pa-f-0-"]')
    amina_answer = amina.locator('#pa-chat [data-testid="bot"]').last.inner_text()
    assert amina_answer[:60] in fac.locator("#pa-fac-chat").inner_text()
    assert question in fac.locator("#pa-fac-chat").inner_text()
    assert fac.locator("#pa-fac-sources .pa-card").count() >= 1
    chip = fac.locator('#pa-fac-chat a[href^="#pa-f-0-"]').nth(1)
    k = chip.inner_text().strip("[] ")
    chip.click()
    fac.wait_for_selector(f"#pa-fac-sources >> text=Answer 1, citation [{k}]")
    assert fac.locator("#pa-fac-sources .pa-card.pa-selected mark").count() >= 1
    # live: Amina's next answer appears in the facilitator's view without a click
    follow = ws.scenarios[0].questions[1]
    ask(amina, follow)
    fac.wait_for_selector(f"#pa-fac-chat >> text={follow[:50]}", timeout=20_000)
    fac.wait_for_selector('#pa-fac-chat a[href^="#pa-f-1-"]')
    shot(fac, "11-facilitator-reads-a-participants-conversation.png")
    axe_check(fac, "desktop-facilitator")

    # Amina reloads the page: her conversation (both answers, with chips) is back; Bram's is not there
    chips_before = amina.locator(CHIP).count()
    amina.reload()
    amina.wait_for_selector('#pa-chat a[href^="#pa-c-1-"]')
    assert amina.locator(CHIP).count() == chips_before
    text = amina.locator("#pa-chat").inner_text()
    assert question in text and follow in text and ws.scenarios[1].questions[0] not in text
    amina.locator(CHIP).first.click()
    amina.wait_for_selector("#pa-sources >> text=Answer 1, citation")
    shot(amina, "12-participant-conversation-after-reload.png")
    # a new conversation is not restored with the old one
    amina.click("#pa-new")
    expect(amina.locator(CHIP)).to_have_count(0)
    amina.reload()
    amina.wait_for_selector("#pa-question textarea")
    amina.wait_for_timeout(1500)
    assert amina.locator(CHIP).count() == 0
    for p in (amina, bram, fac):
        p.context.close()


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["phone-390x844", "tablet-768x1024"])
def test_narrow_screens_chip_tap_shows_the_passage_where_the_user_is(browser, web, size, assistant):
    from ui.library import get_catalogue

    url, _ = web
    tag = f"{size['width']}x{size['height']}"
    page = new_page(browser, viewport=size, has_touch=True)
    page.goto(url)
    page.wait_for_selector("#pa-question textarea")
    # the empty chat is compact: the question box is on the first screen
    assert page.locator("#pa-chat").bounding_box()["height"] < 300
    assert in_viewport(page, "#pa-question textarea")
    starter = page.locator("button.pa-starter").first
    assert starter.inner_text().strip() == QUESTION, "the whole starter question is shown"
    shot(page, f"20-{tag}-start.png")
    starter.click()  # asks at once
    page.wait_for_selector(CHIP)
    page.wait_for_function("() => !document.querySelector('#pa-chat').innerText.includes('Searching the reports') && !document.querySelector('#pa-chat').innerText.includes('▌')")
    page.wait_for_selector("#pa-sources .pa-card", state="attached")
    assert not in_viewport(page, "#pa-sources .pa-card"), "the sources wait in the drawer, out of the way"
    axe_check(page, f"{tag}-chat")
    chip = page.locator(CHIP).nth(1)
    n = chip.inner_text().strip("[] ")
    chip.scroll_into_view_if_needed()
    chip.tap()  # a finger, not a mouse
    page.wait_for_selector(f"#pa-sources >> text=Answer 1, citation [{n}]")
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#pa-sources')")
    # the drawer has slid in (no transition running any more) with the passage and its highlighted sentence on
    # the screen: waited for as conditions, not a fixed time, so a slow machine only takes longer
    page.wait_for_function(
        "() => { const d = document.querySelector('#pa-sources-col'); return !!d && d.classList.contains('pa-open') && d.getAnimations().length === 0; }"
    )
    page.wait_for_function(IN_VIEWPORT_JS, arg="#pa-sources .pa-card.pa-selected")
    page.wait_for_function(IN_VIEWPORT_JS, arg="#pa-sources .pa-card.pa-selected mark")
    assert in_viewport(page, "#pa-sources .pa-card.pa-selected"), "the passage is on the screen"
    assert in_viewport(page, "#pa-sources .pa-card.pa-selected mark")
    page.screenshot(path=str(SHOTS / f"21-{tag}-chip-opens-the-passage.png"))
    axe_check(page, f"{tag}-chat-drawer")
    page.keyboard.press("Escape")  # closes the drawer and returns to the chip
    page.wait_for_function("() => !document.querySelector('.pa-drawer.pa-open')")
    assert page.evaluate("document.activeElement && document.activeElement.getAttribute('href') || ''").endswith(f"-{n}")
    # the About table scrolls sideways instead of being clipped
    page.get_by_role("tab", name="About the sources").click()
    page.wait_for_selector("#pa-about table")
    if get_catalogue(assistant) is not None:  # the tab's own render (with the record counts) has replaced the first
        page.wait_for_function("() => document.querySelector('#pa-about').innerText.includes('practices/recommendations')")
    scroller = page.locator("#pa-about .pa-scroll")
    dims = scroller.evaluate("e => [e.scrollWidth, e.clientWidth, getComputedStyle(e).overflowX, e.tabIndex]")
    assert dims[2] == "auto" and dims[3] == 0
    assert page.locator("#pa-about").bounding_box()["width"] <= size["width"]
    if dims[0] > dims[1]:
        scroller.evaluate("e => e.scrollLeft = e.scrollWidth")
        assert in_viewport(page, "#pa-about th:last-child")
    page.screenshot(path=str(SHOTS / f"22-{tag}-about-table-scrolls.png"))
    axe_check(page, f"{tag}-about")
    page.context.close()
