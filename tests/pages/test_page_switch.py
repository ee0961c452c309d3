"""Settings and uploads that must survive a visit to another page."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui

REPO_ROOT = Path(__file__).resolve().parents[2]
ROCKET = REPO_ROOT / "assets" / "samples" / "rocket.jpg"
VGG_PAGE = "pages/3_VGG16.py"
CONV_PAGE = "pages/5_Convolution.py"
TINY_PAGE = "pages/6_Tiny_VGG.py"


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / "app.py"),
                             default_timeout=120).run()


def visit(app: AppTest, page: str) -> AppTest:
    app.switch_page(page).run()
    assert not app.exception
    return app


def leave_and_return(app: AppTest, page: str) -> AppTest:
    other = CONV_PAGE if page != CONV_PAGE else VGG_PAGE
    visit(app, other)
    return visit(app, page)


def test_vgg_page_keeps_upload_and_grid(app):
    visit(app, VGG_PAGE)
    app.file_uploader(key="vgg_upload").upload(
        "rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()
    app.select_slider(key="vgg_count").set_value(64).run()

    leave_and_return(app, VGG_PAGE)

    assert app.radio(key="vgg_photo").value == ui.UPLOAD_CHOICE
    assert app.select_slider(key="vgg_count").value == 64
    captions = [caption.value for caption in app.caption]
    assert "rocket.jpg, uploaded earlier in this session." in captions


def test_removed_upload_is_forgotten(app):
    visit(app, VGG_PAGE)
    app.file_uploader(key="vgg_upload").upload(
        "rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()
    app.file_uploader(key="vgg_upload").clear().run()

    leave_and_return(app, VGG_PAGE)

    assert app.radio(key="vgg_photo").value == ui.DEFAULT_SAMPLE
    app.radio(key="vgg_photo").set_value(ui.UPLOAD_CHOICE).run()
    captions = [caption.value for caption in app.caption]
    assert not any("uploaded earlier" in text for text in captions)


def test_convolution_page_keeps_kernel_and_stride(app):
    visit(app, CONV_PAGE)
    app.selectbox(key="cv_preset").set_value("Sobel y").run()
    app.slider(key="cv_stride").set_value(2).run()

    leave_and_return(app, CONV_PAGE)

    assert app.selectbox(key="cv_preset").value == "Sobel y"
    assert app.slider(key="cv_stride").value == 2


def test_tiny_vgg_page_keeps_shape_settings(app):
    visit(app, TINY_PAGE)
    app.selectbox(key="tv_shape").set_value("square").run()
    app.slider(key="tv_angle").set_value(90).run()

    leave_and_return(app, TINY_PAGE)

    assert app.selectbox(key="tv_shape").value == "square"
    assert app.slider(key="tv_angle").value == 90
