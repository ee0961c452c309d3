"""Every page in headless Chromium against `streamlit run app.py`."""

from pathlib import Path

import pytest

from tests.browser.helpers import (
    assert_no_exception,
    open_app_page,
    screenshot,
    wait_for_app_idle,
    wait_for_plotly_chart,
)

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"


def test_home_page_links_every_page(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/")
    assert_no_exception(page)
    for label in ("Forward propagation", "Backpropagation", "VGG16"):
        link = page.locator('[data-testid="stSidebarNavLink"]', has_text=label)
        assert link.count() == 1, f"no sidebar link for {label}"
    screenshot(page, artifacts_dir / "home.png")


@pytest.mark.parametrize("path, name", [
    ("/Forward_propagation", "forward_propagation"),
    ("/Backpropagation", "backpropagation"),
])
def test_toy_network_page_draws_charts(page, app_server, artifacts_dir, path,
                                       name):
    open_app_page(page, app_server, path)
    assert wait_for_plotly_chart(page).count() >= 1
    assert_no_exception(page)
    screenshot(page, artifacts_dir / f"{name}.png")


def test_backprop_next_step_to_the_end(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/Backpropagation")
    next_button = page.get_by_role("button", name="Next step")
    for _ in range(40):
        if next_button.is_disabled():
            break
        next_button.click()
        wait_for_app_idle(page)
    assert next_button.is_disabled()
    assert_no_exception(page)
    assert page.get_by_text("cost after the update", exact=False).count() >= 1
    screenshot(page, artifacts_dir / "backpropagation_last_step.png")


def test_vgg16_upload_shows_feature_maps(page, app_server, artifacts_dir):
    open_app_page(page, app_server, "/VGG16")
    wait_for_plotly_chart(page, timeout=120_000)
    screenshot(page, artifacts_dir / "vgg16.png")

    upload = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    upload.set_input_files(str(SAMPLES / "rocket.jpg"))
    wait_for_app_idle(page, timeout=120_000)
    assert page.locator('[data-testid="stFileChipName"]').count() == 1
    assert wait_for_plotly_chart(page).count() >= 1
    assert_no_exception(page)
    screenshot(page, artifacts_dir / "vgg16_upload.png")
