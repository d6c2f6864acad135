"""The browser harness of the console's end-to-end tests: plain pytest functions taking `page`.

`browser` is Debian's chromium driven by Playwright (the pip package only: never run
`playwright install`). Without chromium or playwright these tests skip and say how to install
them, except with CI=true, where they fail. `page` is a fresh context and page on the test
server (`page.goto("/console/")` is relative to `server.url`) that records, as lists of strings:

- `page.sodata_console`: console messages, "[type] text (url:line)";
- `page.sodata_errors`: uncaught exceptions of the page (stack, or "Name: message");
- `page.sodata_requests`: the URL of every request;
- `page.sodata_network`: "status METHOD url" for every response, "FAILED METHOD url: reason".

When a test that uses `page` fails, a full-page screenshot, the page's HTML and these
recordings are saved under test-artifacts/console/<test name>/ (the failure report says where).
Test modules import helpers from here (not playwright, so that they collect without it), e.g.
`from tests.console.conftest import expect, sign_in`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from sodata.demo.credentials import DEMO_PASSWORD
from tests.conftest import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"
TIMEOUT_MS = 15_000
INSTALL_HINT = (
    "the console's browser tests need Debian's chromium and the playwright pip package: "
    "`apt-get install chromium` and `.venv/bin/pip install -e '.[test]'` "
    "(never `playwright install`)"
)


def _unavailable(reason: str) -> None:
    reason = f"{reason}; {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if os.access(found, os.X_OK) else None


# The full browser (not the headless shell) opens a window per context, and each window
# preloads the omnibox's pop-ups, pages of Chrome's own UI, for an address bar no test sees:
# without them, the browser's CPU in the suite went from 82 s to 55 s (two thirds less for a
# plain page). Unknown feature names are ignored.
CHROMIUM_ARGS = [
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]


# Per module, not per session: while Playwright's sync API runs, its event loop counts as
# running in this thread, and every later test calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import expect as playwright_expect
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc})")
    executable = chromium_path()
    if executable is None:
        _unavailable("chromium is not installed (no `chromium` on PATH nor /usr/bin/chromium)")
    playwright_expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="Europe/Paris",
        accept_downloads=True,
        base_url=server.url,
    )
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    network: list[str] = []
    # On the context, so that pop-ups and workers are recorded too.
    context.on("console", lambda msg: console.append(_console_line(msg)))
    context.on("weberror", lambda e: errors.append(e.error.stack or f"{e.error.name}: {e.error}"))
    context.on("request", lambda r: requests.append(r.url))
    context.on("response", lambda r: network.append(f"{r.status} {r.request.method} {r.url}"))
    context.on("requestfailed", lambda r: network.append(f"FAILED {r.method} {r.url}: {r.failure}"))
    new_page.sodata_console = console  # type: ignore[attr-defined]
    new_page.sodata_errors = errors  # type: ignore[attr-defined]
    new_page.sodata_requests = requests  # type: ignore[attr-defined]
    new_page.sodata_network = network  # type: ignore[attr-defined]
    yield new_page
    context.close()


def _console_line(msg: Any) -> str:
    where = msg.location or {}
    at = f" ({where.get('url')}:{where.get('lineNumber')})" if where.get("url") else ""
    return f"[{msg.type}] {msg.text}{at}"


def save_artifacts(page: Page, directory: Path) -> Path:
    """Write screenshot.png (full page), page.html, console.log (console messages and page
    errors) and requests.log (URLs, then responses) into `directory`, emptied first."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    problems = []
    try:
        page.screenshot(path=directory / "screenshot.png", full_page=True, timeout=TIMEOUT_MS)
    except Exception as exc:  # noqa: BLE001 (a closed or crashed page: save the rest)
        problems.append(f"no screenshot: {exc}")
    try:
        (directory / "page.html").write_text(page.content())
    except Exception as exc:  # noqa: BLE001
        problems.append(f"no page.html: {exc}")
    console = getattr(page, "sodata_console", [])
    errors = getattr(page, "sodata_errors", [])
    (directory / "console.log").write_text(
        f"url: {page.url}\n"
        + "".join(f"harness: {p}\n" for p in problems)
        + f"\n# page errors ({len(errors)})\n"
        + "".join(f"{e}\n" for e in errors)
        + f"\n# console messages ({len(console)})\n"
        + "".join(f"{m}\n" for m in console)
    )
    requests = getattr(page, "sodata_requests", [])
    network = getattr(page, "sodata_network", [])
    (directory / "requests.log").write_text(
        f"# requests ({len(requests)})\n"
        + "".join(f"{u}\n" for u in requests)
        + f"\n# responses and failures ({len(network)})\n"
        + "".join(f"{n}\n" for n in network)
    )
    return directory


def artifacts_dir(item: pytest.Item) -> Path:
    return ARTIFACTS / re.sub(r"[^\w.\[\]-]+", "_", item.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    # While the call report is made, the test's fixtures (so its page) are still alive.
    if report.when != "call" or not report.failed:
        return
    failed_page = getattr(item, "funcargs", {}).get("page")
    if failed_page is None:
        return
    try:
        where = save_artifacts(failed_page, artifacts_dir(item))
        message = f"screenshot, console log and requests saved to {where}"
    except Exception as exc:  # noqa: BLE001 (never hide the test's own failure)
        message = f"could not save the browser artifacts: {exc!r}"
    print(f"\n{item.nodeid}: {message}")
    report.sections.append(("browser artifacts", message))


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Fill and submit the embedded identity provider's sign-in page, which the console
    redirected to (this does not navigate by itself); return once the form's answer loaded."""
    username = page.locator("form input[name=username]")
    username.wait_for(state="visible")
    username.fill(email)
    page.locator("form input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default


def assert_only_own_host(page: Page, server: Server) -> None:
    """Every request the page made went to the server (no CDN, no third party)."""
    own = _origin(server.url)
    offenders = [
        url
        for url in page.sodata_requests  # type: ignore[attr-defined]
        if not url.startswith(("data:", "blob:")) and _origin(url) != own
    ]
    assert not offenders, f"requests to hosts other than {server.url}:\n" + "\n".join(offenders)


def assert_no_page_errors(page: Page) -> None:
    """No uncaught exception and no console error (e.g. a failed module import or a 404)."""
    errors = page.sodata_errors + [  # type: ignore[attr-defined]
        m
        for m in page.sodata_console  # type: ignore[attr-defined]
        if m.startswith("[error]")
    ]
    assert not errors, "the page reported errors:\n" + "\n".join(errors)


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's `expect` (its timeout is 15 s here), imported when first used."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


TOKENS = "sodata.tokens"  # where the console keeps its tokens (static/js/auth.js)


def stored_tokens(page: Page) -> dict[str, Any]:
    """The console's tokens in the page's sessionStorage: access, refresh, id, expiresAt."""
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{TOKENS}'))")


def edit_tokens(page: Page, change: str) -> None:
    """Runs `change`, JavaScript on `t` (the stored tokens), and stores them back."""
    page.evaluate(
        f"() => {{ const t = JSON.parse(sessionStorage.getItem('{TOKENS}')); {change}; "
        f"sessionStorage.setItem('{TOKENS}', JSON.stringify(t)); }}"
    )
