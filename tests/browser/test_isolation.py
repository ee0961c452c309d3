"""Two sessions at once keep their own state, in headless Chromium.

Both sessions are tabs of one browser context. Each tab opens its own
WebSocket and so gets its own Streamlit session, while the tabs share
cookies and browser storage, so state leaking through either would show.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import VIEWPORT
from tests.browser.helpers import (
    RERUN_TIMEOUT_MS,
    assert_no_exception,
    metric_value,
    open_app_page,
    wait_for_app_idle,
)

CHANGED_SEED = 7
CHANGED_BUDGET = 123
PROGRESS_SELECTOR = '[data-testid="stProgress"]'


@pytest.fixture
def two_tabs(browser: Browser) -> Iterator[tuple[Page, Page]]:
    context = browser.new_context(viewport=VIEWPORT)
    yield context.new_page(), context.new_page()
    context.close()


def set_number(page: Page, label: str, value: int) -> None:
    """Type `value` into the number input `label`, then wait for the rerun."""
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    wait_for_app_idle(page)


def number_value(page: Page, label: str) -> int:
    return int(page.get_by_role("spinbutton", name=label).input_value())


def expect_epoch(page: Page, epoch: int) -> None:
    expect(metric_value(page, "Epoch")).to_have_text(str(epoch),
                                                     timeout=RERUN_TIMEOUT_MS)


def expect_query_value(page: Page, name: str, value: int) -> None:
    """Wait until the page's URL has the query parameter `name=value`."""
    pattern = re.compile(rf"[?&]{re.escape(name)}={value}(&|$)")
    expect(page).to_have_url(pattern, timeout=RERUN_TIMEOUT_MS)


def click_button(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    wait_for_app_idle(page)


def expect_backprop_step(page: Page, step: int) -> None:
    """Wait until the walkthrough's progress bar reads "Step STEP of N"."""
    progress = page.locator(PROGRESS_SELECTOR).first
    expect(progress).to_have_text(re.compile(rf"^Step {step} of "),
                                  timeout=RERUN_TIMEOUT_MS)


def test_training_settings_stay_per_session(two_tabs, app_server):
    first, second = two_tabs
    open_app_page(first, app_server, "/Training")
    open_app_page(second, app_server, "/Training")
    default_seed = number_value(second, "Seed")
    default_budget = number_value(first, "Epoch budget")

    set_number(first, "Seed", CHANGED_SEED)
    click_button(first, "Step epoch")
    expect_epoch(first, 1)
    # The second tab's rerun reads its session's state after the first
    # tab's changes, so shared state would show up here.
    set_number(second, "Epoch budget", CHANGED_BUDGET)
    expect_query_value(second, "epochs", CHANGED_BUDGET)

    assert number_value(first, "Seed") == CHANGED_SEED
    assert number_value(first, "Epoch budget") == default_budget
    expect_epoch(first, 1)
    expect_query_value(first, "seed", CHANGED_SEED)

    assert number_value(second, "Seed") == default_seed
    assert number_value(second, "Epoch budget") == CHANGED_BUDGET
    expect_epoch(second, 0)
    expect_query_value(second, "seed", default_seed)
    assert_no_exception(first)
    assert_no_exception(second)


def test_backprop_step_stays_per_session(two_tabs, app_server):
    first, second = two_tabs
    open_app_page(first, app_server, "/Backpropagation")
    open_app_page(second, app_server, "/Backpropagation")
    expect_backprop_step(second, 1)

    click_button(first, "Next step")
    expect_backprop_step(first, 2)
    click_button(first, "Next step")
    expect_backprop_step(first, 3)
    expect_backprop_step(second, 1)

    # One more step in the second tab moves it from its own step 1, not
    # from the first tab's step 3.
    click_button(second, "Next step")
    expect_backprop_step(second, 2)
    expect_backprop_step(first, 3)
    assert_no_exception(first)
    assert_no_exception(second)
