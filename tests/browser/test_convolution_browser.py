"""The convolution page in headless Chromium against `streamlit run app.py`."""

import re

from tests.browser.helpers import (
    assert_no_exception,
    open_app_page,
    screenshot,
    wait_for_app_idle,
    wait_for_plotly_chart,
)

PROGRESS = '[data-testid="stProgress"]'
PLAY_TIMEOUT_MS = 60_000  # generous: a loaded machine slows the timer


def click_key(page, key: str) -> None:
    """Click the button whose widget key is `key`, then wait for the rerun."""
    page.locator(f".st-key-{key} button").click()
    wait_for_app_idle(page)


def progress_text(page) -> str:
    return page.locator(PROGRESS).first.inner_text().strip()


def test_convolution_next_steps(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/Convolution")
    assert wait_for_plotly_chart(page).count() >= 5
    assert progress_text(page).startswith("Position 1 of 16")

    for _ in range(5):
        click_key(page, "cv_next")

    assert_no_exception(page)
    assert progress_text(page).startswith("Position 6 of 16: output row 1, column 1")
    screenshot(page, artifacts_dir / "convolution.png")


def test_convolution_play_advances(page, app_server):
    open_app_page(page, app_server, "/Convolution")
    click_key(page, "cv_play")

    # The fragment's timer moves the sweep on by itself.
    # Any position past the first will do: on a slow machine the text
    # may be redrawn less often than the sweep moves.
    moved = re.compile(r"Position ([2-9]|1[0-6]) of 16")
    page.locator(PROGRESS).get_by_text(moved).wait_for(timeout=PLAY_TIMEOUT_MS)
    page.locator(".st-key-cv_pause button").click()
    wait_for_app_idle(page)

    assert page.locator(".st-key-cv_play button").count() == 1
    assert_no_exception(page)


def test_convolution_rgb_photo(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/Convolution")
    click_key(page, "cv_rgb_example")
    click_key(page, "cv_next")

    assert_no_exception(page)
    assert page.get_by_text("Kernel 0 of VGG16's conv1_1").count() == 1
    assert progress_text(page).startswith("Position 2 of 36")
    screenshot(page, artifacts_dir / "convolution_rgb.png")
