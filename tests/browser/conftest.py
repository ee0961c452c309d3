"""Fixtures for browser tests: a Streamlit server for app.py and headless Chromium.

Playwright drives Debian's Chromium at /usr/bin/chromium. `playwright install` is
never used, because it downloads a browser build from hosts outside PyPI and apt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from tests.browser.helpers import (
    StreamlitServerError,
    run_streamlit_server,
    screenshot,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
BROWSER_TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add the `browser` marker to every test under tests/browser/."""
    for item in items:
        if BROWSER_TESTS_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Store each phase's report on the test item so fixtures can see failures."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots and the server log, ignored by git."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def app_server(artifacts_dir: Path) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT`) of `streamlit run app.py` in the repo root.

    The server log goes to tests/artifacts/streamlit-server.log.
    """
    log_path = artifacts_dir / "streamlit-server.log"
    error_message = None
    try:
        with run_streamlit_server(REPO_ROOT, log_path) as server:
            yield server.base_url
    except StreamlitServerError as error:
        error_message = str(error)

    # Failing outside the except block keeps the chained traceback out of the report.
    if error_message is not None:
        pytest.fail(error_message, pytrace=False)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, shared by all tests in the session."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM_PATH}. Install it with "
            "`apt-get install -y chromium` or run `bash scripts/test.sh`.",
            pytrace=False,
        )

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught page errors that the `page` fixture collects."""
    return []


@pytest.fixture
def page(
    browser: Browser,
    console_errors: list[str],
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """New page in a fresh browser context with a 1400x1000 viewport.

    Console errors go to the `console_errors` fixture. When the test fails, a
    full-page screenshot is saved to tests/artifacts/failed-TEST_NAME.png.
    """
    context = browser.new_context(viewport=VIEWPORT)
    new_page = context.new_page()

    def record_console_message(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"console error: {message.text}")

    def record_page_error(error: Error) -> None:
        console_errors.append(f"page error: {error}")

    new_page.on("console", record_console_message)
    new_page.on("pageerror", record_page_error)

    yield new_page

    call_report = getattr(request.node, "report_call", None)
    if call_report is not None and call_report.failed:
        file_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            screenshot(new_page, artifacts_dir / f"failed-{file_name}.png")
        except Error as error:
            # The page may have crashed or closed. The test has failed already, so
            # report the lost screenshot without adding a second error.
            print(f"Failure screenshot for {request.node.nodeid} failed: {error}")
    context.close()
