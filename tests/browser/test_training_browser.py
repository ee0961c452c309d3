"""The training playground in headless Chromium: Play, live charts, Pause."""

from playwright.sync_api import Page

from tests.browser.helpers import (
    assert_no_exception,
    open_app_page,
    screenshot,
    wait_for_app_idle,
    wait_for_plotly_chart,
)

PLAY_SECONDS = 2
EPOCH_BUDGET = 10_000  # far more than Play reaches, so Pause is what stops it


def shown_epoch(page: Page) -> int:
    """Read the "Epoch" metric, which reads "12" or "5 of 12" when rewound."""
    metric = page.locator('[data-testid="stMetric"]', has_text="Epoch")
    text = metric.locator('[data-testid="stMetricValue"]').inner_text()
    return int(text.split(" of ")[0].replace(",", ""))


def test_play_then_pause_keeps_training(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/Training")
    assert wait_for_plotly_chart(page).count() >= 5
    assert shown_epoch(page) == 0

    budget = page.get_by_role("spinbutton", name="Epoch budget")
    budget.fill(str(EPOCH_BUDGET))
    budget.press("Enter")
    wait_for_app_idle(page)

    page.get_by_role("button", name="Play").click()
    page.wait_for_timeout(PLAY_SECONDS * 1000)
    assert shown_epoch(page) > 0
    page.get_by_role("button", name="Pause").click()
    wait_for_app_idle(page)

    paused_at = shown_epoch(page)
    page.wait_for_timeout(1000)
    assert paused_at > 0
    assert shown_epoch(page) == paused_at
    assert page.get_by_role("button", name="Play").is_enabled()
    assert page.get_by_role("button", name="Pause").is_disabled()
    assert page.get_by_text("Epoch on show").count() == 1
    assert_no_exception(page)
    screenshot(page, artifacts_dir / "training.png")
