"""The web site in a real browser: headless Chromium (Debian's `chromium`)
driven by Playwright, against `reseau web` on 127.0.0.1, on a port the
kernel picks, with a fresh SQLite file in a temporary folder.

Covers: the home page (`/`), a `<script>` in `?name=` shown as text and
never run, the login form filled in by typing and sent by clicking, the
front-end page (`/app`: the user list from the API, adding and deleting a
user, an API error shown, a sum), and the 404 page.

Every step saves a screenshot into `target/browser-screenshots/`
(`RESEAU_SCREENSHOTS` to change it), where a failing run can be inspected.

Run by `scripts/test` (through `tests/browser/run.sh`), or by hand:
`target/test-venv/bin/python -m pytest tests/browser`. Needs
`cargo build --release --workspace` first (or `RESEAU_BIN`) and
`/usr/bin/chromium` (or `CHROMIUM`).
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("RESEAU_BIN", REPO / "target" / "release" / "reseau"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("RESEAU_SCREENSHOTS", REPO / "target" / "browser-screenshots")
)
# The longest any one wait may take (Playwright's timeouts, in ms).
WAIT_MS = 15_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class WebServer:
    """`reseau web --bind 127.0.0.1:0 --db <tmp>/site.db`, killed at the end.

    Its stderr (the `listening on` line, then the access log) is read by a
    thread, so the pipe never fills up; `log` has every line so far.
    """

    def __init__(self, folder):
        assert BINARY.is_file(), (
            f"no reseau binary at {BINARY}: run `cargo build --release --workspace` "
            "first (or set RESEAU_BIN)"
        )
        self.log = []
        self._listening = threading.Event()
        self.proc = subprocess.Popen(
            [str(BINARY), "web", "--bind", "127.0.0.1:0", "--db", str(folder / "site.db")],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self.base = None
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._listening.wait(15):
            self.stop()
            raise AssertionError(f"the server did not say `web: listening on`: {self.log}")

    def _read_log(self):
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.log.append(line)
            match = re.match(r"web: listening on (\S+)$", line)
            if match and self.base is None:
                self.base = f"http://{match.group(1)}"
                self._listening.set()
        self._listening.set()

    def url(self, path):
        return self.base + path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server():
    folder = Path(tempfile.mkdtemp(prefix="reseau-browser-"))
    web = WebServer(folder)
    yield web
    web.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_context():
    assert os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM}"
    profile = tempfile.mkdtemp(prefix="reseau-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(WAIT_MS)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """A browser tab for one test: records dialogs and page errors, and
    saves numbered screenshots named after the test."""

    def __init__(self, context, name):
        self.page = context.new_page()
        self.name = name
        self.step = 0
        self.dialogs = []
        self.errors = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _on_dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def shot(self, what):
        self.step += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{self.step:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser_context, request):
    page = Page(browser_context, request.node.name)
    yield page
    # The last state, whatever happened.
    try:
        page.shot("end")
    finally:
        page.page.close()


def test_home_says_hello_world(server, tab):
    response = tab.page.goto(server.url("/"))
    assert response.status == 200
    expect(tab.page.locator("body")).to_contain_text("Hello World!")
    expect(tab.page.locator("b", has_text="World")).to_be_visible()
    tab.shot("home")
    assert tab.errors == []


def test_script_in_the_name_is_shown_and_never_run(server, tab):
    script = "<script>window.pwned=1;alert('pwned')</script>"
    response = tab.page.goto(server.url("/?name=" + urllib.parse.quote(script)))
    assert response.status == 200
    # Shown as text, as typed.
    expect(tab.page.locator("body")).to_contain_text(f"Hello {script}!")
    tab.shot("script-name")
    assert tab.page.evaluate("typeof window.pwned") == "undefined"
    assert tab.dialogs == []

    image = "<img src=x onerror=\"window.pwned=2;alert('pwned')\">"
    response = tab.page.goto(server.url("/?name=" + urllib.parse.quote(image)))
    assert response.status == 200
    expect(tab.page.locator("body")).to_contain_text(f"Hello {image}!")
    tab.page.wait_for_load_state("load")
    tab.shot("img-name")
    assert tab.page.locator("img[src=x]").count() == 0
    assert tab.page.evaluate("typeof window.pwned") == "undefined"
    assert tab.dialogs == []


def test_login_form_typed_and_clicked(server, tab):
    tab.page.goto(server.url("/loginform"))
    field = tab.page.locator("input[name=name]")
    field.click()
    field.press_sequentially("Bob l'éponge", delay=20)
    tab.shot("typed")
    with tab.page.expect_navigation():
        tab.page.locator("[type=submit]").click()
    assert urllib.parse.urlparse(tab.page.url).path == "/login"
    expect(tab.page.locator("body")).to_contain_text("Bonjour Bob l'éponge !")
    tab.shot("bonjour")

    # Sent empty: a 400 page that says what is missing.
    tab.page.goto(server.url("/loginform"))
    with tab.page.expect_navigation() as navigation:
        tab.page.locator("[type=submit]").click()
    assert navigation.value.status == 400
    expect(tab.page.locator("body")).to_contain_text("name")
    tab.shot("empty-name")
    assert tab.errors == []


def user_items(page):
    return page.locator("#user-list li")


def test_front_end_adds_and_deletes_a_user_and_sums(server, tab):
    page = tab.page
    page.goto(server.url("/app"))
    items = user_items(page)
    expect(items).to_have_count(3)
    for name in ["CBF", "LUR", "VRL"]:
        expect(items.filter(has_text=name)).to_have_count(1)
    tab.shot("listed")

    # Add one: the list shows it.
    page.locator("#new-name").fill("Dora")
    page.locator("#add-user").click()
    expect(items).to_have_count(4)
    dora = items.filter(has_text="Dora")
    expect(dora).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    tab.shot("added")

    # A name with HTML in it is shown as text.
    html_name = "<img src=x onerror=window.pwned=1>"
    page.locator("#new-name").fill(html_name)
    page.locator("#add-user").click()
    expect(items).to_have_count(5)
    expect(items.filter(has_text=html_name)).to_have_count(1)
    assert page.locator("#user-list img").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
    tab.shot("html-name")

    # A duplicate: the API's error is shown, the list unchanged.
    page.locator("#new-name").fill("CBF")
    page.locator("#add-user").click()
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).not_to_be_empty()
    expect(items).to_have_count(5)
    tab.shot("duplicate")

    # Delete: gone from the list, and from the API.
    dora.locator("button.delete").click()
    expect(items.filter(has_text="Dora")).to_have_count(0)
    items.filter(has_text=html_name).locator("button.delete").click()
    expect(items).to_have_count(3)
    tab.shot("deleted")
    page.reload()
    expect(items).to_have_count(3)
    expect(items.filter(has_text="Dora")).to_have_count(0)

    # Sums.
    page.locator("#sum-input").fill("1 2 3")
    page.locator("#sum-button").click()
    expect(page.locator("#sum-result")).to_have_text("6")
    tab.shot("sum")
    page.locator("#sum-input").fill("9223372036854775807 1")
    page.locator("#sum-button").click()
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#sum-result")).to_have_text("")
    tab.shot("overflow")
    assert tab.errors == []
    assert tab.dialogs == []


def test_unknown_page_is_a_404(server, tab):
    response = tab.page.goto(server.url("/no/such/page"))
    assert response.status == 404
    expect(tab.page.locator("body")).to_contain_text("/no/such/page")
    tab.shot("not-found")


def test_the_server_logged_every_request(server):
    # Runs last in this file: the pages above were all logged.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("/no/such/page" in l for l in server.log):
        time.sleep(0.05)
    assert any("/no/such/page" in line and "404" in line for line in server.log), server.log
    assert not any("panicked" in line for line in server.log), server.log
