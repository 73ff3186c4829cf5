"""`curate label serve` in a real browser: headless Debian Chromium driven by Playwright.

Label by keystrokes, undo, reload; two labellers at once; a server killed and restarted; a
screenshot; a text that holds a script.
"""

from __future__ import annotations

import io
import time

import numpy as np
import polars as pl
import pytest
from served import (
    CHROMIUM_FLAGS,
    LABELS,
    Server,
    active_labels,
    chromium_path,
    database,
    free_port,
    make_session,
    serving,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    binary = chromium_path()
    if binary is None:
        pytest.skip("chromium not installed (scripts/install-chromium.sh installs Debian's package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=binary, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, who: str):
    """A fresh browser context (its own cookies) on ``url``, past the name form as ``who``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.console_errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.goto(url)
    page.fill("#name", who)
    page.click("button[type=submit]")
    page.wait_for_selector("#panel")
    return page


def shown_row(page, timeout: float = 60_000) -> str:
    """The id of the row the page shows (waits while the model picks rows)."""
    page.wait_for_function("() => document.getElementById('item') && document.getElementById('item').dataset.row !== ''",
                           timeout=timeout)
    return page.get_attribute("#item", "data-row")


def press_and_wait(page, key: str, row: str) -> None:
    """Press ``key`` on the page showing ``row`` and wait until another row is shown."""
    page.keyboard.press(key)
    page.wait_for_function(
        "row => { const el = document.getElementById('item'); return el.dataset.row !== '' && el.dataset.row !== row; }",
        arg=row, timeout=60_000)


def element_png(locator, tries: int = 10) -> bytes:
    """A screenshot of ``locator``; the page redraws its panel as the model refits, so an element
    may be replaced between finding and shooting it: shoot the fresh one."""
    from playwright.sync_api import Error

    for attempt in range(tries):
        try:
            return locator.screenshot()
        except Error as error:
            if "not attached" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def labelled_on_page(page) -> int:
    return int(page.text_content(".progress b").replace(",", ""))


def test_label_20_by_keys_undo_reload_and_screenshot(tmp_path, browser):
    truth = make_session(tmp_path / "s", n=60)
    with serving(tmp_path / "s") as server:
        page = open_page(browser, server.url, "ann")
        seen = []
        for _ in range(20):
            row = shown_row(page)
            assert row not in seen
            seen.append(row)
            assert page.text_content("#text") == pl.read_database(
                f"SELECT text FROM pool WHERE id = '{row}'", database(tmp_path / "s"))["text"][0]
            press_and_wait(page, str(truth[row] + 1), row)
        page.wait_for_function("() => document.querySelector('.progress b').textContent === '20'")
        assert [(i, c) for i, c, _ in active_labels(tmp_path / "s")] == [(i, truth[i]) for i in seen]

        page.keyboard.press("u")
        page.wait_for_function("row => document.getElementById('item').dataset.row === row", arg=seen[-1])
        assert labelled_on_page(page) == 19 and "1 undone" in page.text_content(".progress")

        # the panel: per-class counts, the labeller, rounds, an accuracy curve, energy, stopping criteria
        counts = {name: sum(1 for i in seen[:-1] if LABELS[truth[i]] == name) for name in LABELS}
        cells = page.locator("aside table.counts").first.locator("tr")
        assert {cells.nth(k).locator("td").nth(0).text_content(): int(cells.nth(k).locator("td").nth(1).text_content())
                for k in range(cells.count())} == counts
        assert "ann (you)" in page.text_content("aside") and "19" in page.locator("aside table.counts").nth(1).text_content()
        points = page.get_attribute("svg.curve polyline", "points").split()
        assert len(points) >= 2
        assert "label budget: not set" in page.text_content("ul.stops")

        # a screenshot: the label buttons and the curve are drawn, not empty boxes
        from PIL import Image

        page.screenshot(path=tmp_path / "page.png", full_page=True)
        assert Image.open(tmp_path / "page.png").size[0] == 1280
        buttons = page.locator("button.label")
        assert buttons.count() == 3
        for k in range(3):
            assert buttons.nth(k).text_content().strip().endswith(LABELS[k])
            picture = Image.open(io.BytesIO(element_png(buttons.nth(k)))).convert("L")
            assert picture.getextrema()[1] - picture.getextrema()[0] > 100  # text drawn on the button
        curve = np.asarray(Image.open(io.BytesIO(element_png(page.locator("svg.curve")))).convert("RGB")).astype(int)
        blue = ((curve[..., 2] > 150) & (curve[..., 0] < 100)).sum()
        assert blue > 50  # the accuracy line and its dots are drawn

        page.reload()
        page.wait_for_selector("#panel")
        assert labelled_on_page(page) == 19 and "1 undone" in page.text_content(".progress")
        row = shown_row(page)
        assert row not in seen[:-1]
        assert page.console_errors == []
    with database(tmp_path / "s") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT pos) FROM labels WHERE active = 1").fetchone() == (19, 19)
        assert db.execute("SELECT p.id FROM labels l JOIN pool p ON p.pos = l.pos WHERE active = 0").fetchall() == [(seen[-1],)]
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # a clean stop releases every claim


def test_two_labellers_at_once_never_share_or_double_a_row(tmp_path, browser):
    truth = make_session(tmp_path / "s", n=50)
    with serving(tmp_path / "s") as server:
        ann, bob = open_page(browser, server.url, "ann"), open_page(browser, server.url, "bob")
        done = {"ann": [], "bob": []}
        for _ in range(12):
            rows = {"ann": shown_row(ann), "bob": shown_row(bob)}
            assert rows["ann"] != rows["bob"]
            ann.keyboard.press(str(truth[rows["ann"]] + 1))  # both answers in flight at once
            bob.keyboard.press(str(truth[rows["bob"]] + 1))
            for name, page in (("ann", ann), ("bob", bob)):
                page.wait_for_function("row => document.getElementById('item').dataset.row !== row", arg=rows[name])
                done[name].append(rows[name])
        assert not set(done["ann"]) & set(done["bob"])

        # a second tab of ann's shows yet another row, and answers it
        second = ann.context.new_page()
        second.goto(server.base + "/")
        rows = {"ann": shown_row(ann), "bob": shown_row(bob), "ann, second tab": shown_row(second)}
        assert len(set(rows.values())) == 3
        press_and_wait(second, str(truth[rows["ann, second tab"]] + 1), rows["ann, second tab"])
        done["ann"].append(rows["ann, second tab"])
        second.close()
        labels = active_labels(tmp_path / "s")
        assert sorted(i for i, _, _ in labels) == sorted(done["ann"] + done["bob"])
        assert {who: sum(1 for _, _, w in labels if w == who) for who in ("ann", "bob")} == {"ann": 13, "bob": 12}
        ann.wait_for_function("() => document.querySelector('.progress b').textContent === '25'")

        def claims(who: str) -> int:
            with database(tmp_path / "s") as db:
                return db.execute("SELECT COUNT(*) FROM claims WHERE who = ?", (who,)).fetchone()[0]

        # bob closes his tab: his claims (the row on his page and his queue) are released
        assert claims("bob") > 0
        bob.close(run_before_unload=True)  # as a person closes a tab: the page says goodbye
        wait_until(lambda: claims("bob") == 0)
        # cat's tab goes silent (asleep, or the network dropped): it times out, and so do its claims
        cat = open_page(browser, server.url, "cat")
        shown_row(cat)
        cat.route("**/api/**", lambda route: route.abort())
        assert claims("cat") > 0
        wait_until(lambda: claims("cat") == 0)
        assert ann.console_errors == [] and ann.dialogs == []
    with database(tmp_path / "s") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT pos) FROM labels").fetchone() == (25, 25)


def test_server_killed_mid_session_and_restarted_loses_nothing(tmp_path, browser):
    truth = make_session(tmp_path / "s", n=40)
    port = free_port()
    server = Server(tmp_path / "s", port=port)
    try:
        page = open_page(browser, server.url, "ann")
        before = []
        for _ in range(6):
            row = shown_row(page)
            before.append(row)
            press_and_wait(page, str(truth[row] + 1), row)
        pending = shown_row(page)
        server.kill()
        assert [i for i, _, _ in active_labels(tmp_path / "s")] == before  # every answer was committed

        server = Server(tmp_path / "s", port=port)
        # the page that outlived the server answers its row: the new server takes it
        press_and_wait(page, str(truth[pending] + 1), pending)
        assert [i for i, _, _ in active_labels(tmp_path / "s")] == [*before, pending]
        page.reload()
        page.wait_for_selector("#panel")
        assert labelled_on_page(page) == 7
        after = []
        for _ in range(5):
            row = shown_row(page)
            assert row not in before and row != pending
            after.append(row)
            press_and_wait(page, str(truth[row] + 1), row)
        labels = active_labels(tmp_path / "s")
        assert [i for i, _, _ in labels] == [*before, pending, *after]
        assert all(c == truth[i] for i, c, _ in labels)
        # the only errors: heartbeats that found the server down, which the page said and retried
        assert {e for e in page.console_errors} <= {"Failed to load resource: net::ERR_CONNECTION_REFUSED"}
    finally:
        server.stop()


def test_a_text_that_holds_a_script_is_shown_not_run(tmp_path, browser):
    hostile = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "</div><script>alert(3)</script>",
               "\" onmouseover=\"alert(4)", "{{7*7}} <b>bold?</b> &amp; &lt;"]
    frame = pl.DataFrame({"id": [f"x{i}" for i in range(len(hostile))], "text": hostile})
    make_session(tmp_path / "s", frame=frame, batch_size=2)
    with serving(tmp_path / "s") as server:
        page = open_page(browser, server.url, "<i>eve</i><script>alert(5)</script>")
        shown = []
        for _ in hostile:
            row = shown_row(page)
            shown.append(page.text_content("#text"))
            assert page.evaluate("() => document.querySelectorAll('#text *').length") == 0
            press_and_wait(page, "1", row) if len(shown) < len(hostile) else page.keyboard.press("1")
        page.wait_for_function("() => document.querySelector('.progress b').textContent === '5'")
        assert sorted(shown) == sorted(hostile)  # each shown literally
        assert page.evaluate("() => document.querySelectorAll('aside i, aside script, #item script, #item img').length") == 0
        assert "<i>eve</i><script>alert(5)</script> (you)" in page.text_content("aside")
        assert page.dialogs == []
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
    assert sorted(i for i, _, _ in active_labels(tmp_path / "s")) == sorted(frame["id"])
