"""Tests of the Tiny VGG page, run through Streamlit's AppTest."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from engine.shapes import CLASSES
from engine.tinyvgg import load_tinyvgg, weights_digest

PAGE = Path(__file__).resolve().parents[2] / "pages" / "6_Tiny_VGG.py"
TIMEOUT_S = 60
# Reruns allowed for a small run to finish. Each rerun trains for up to 0.4 s.
MAX_TRAINING_RUNS = 40
MAP_LAYERS = ["conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2"]
CONV_LAYERS = [name for name in MAP_LAYERS if name.startswith("conv")]


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()


def chart_spec(at: AppTest, key: str) -> dict:
    """Return the Plotly JSON of the chart with widget key `key`."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no Plotly chart with key {key!r} on the page")


def has_chart(at: AppTest, key: str) -> bool:
    return any(chart.proto.id.endswith(f"-{key}") for chart in at.get("plotly_chart"))


def decode(array: dict | list) -> np.ndarray:
    """Decode an array of Plotly JSON, which plotly.py writes as base64."""
    if isinstance(array, list):
        return np.asarray(array, dtype=float)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    shape = [int(size) for size in str(array.get("shape", len(values))).split(",")]
    return values.reshape(shape)


def texts(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


def captions(at: AppTest) -> str:
    return "\n".join(element.value for element in at.caption)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def choose_upload(at: AppTest) -> AppTest:
    return at.radio(key="tv_source").set_value("upload").run()


def train_until_done(at: AppTest) -> AppTest:
    """Rerun the page, as the fragment's timer would, until the run ends."""
    for _ in range(MAX_TRAINING_RUNS):
        if not at.session_state["tv_training"]:
            return at
        at.run()
    raise AssertionError(f"training still running after {MAX_TRAINING_RUNS} runs")


def start_small_run(at: AppTest, images: int, epochs: int) -> AppTest:
    at.select_slider(key="tv_train_images").set_value(images)
    at.slider(key="tv_epochs").set_value(epochs)
    return at.button(key="tv_train").click().run()


def test_page_loads_without_exception(app):
    assert not app.exception
    assert app.title[0].value == "Tiny VGG"


def test_page_shows_a_prediction(app):
    spec = chart_spec(app, "tv_probability_chart")
    probabilities = decode(spec["data"][0]["x"])
    assert list(spec["data"][0]["y"]) == list(CLASSES)
    assert probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert "The network says **" in texts(app)


@pytest.mark.parametrize("name", CLASSES)
def test_generated_shape_is_recognised(app, name):
    app.selectbox(key="tv_shape").set_value(name).run()
    assert not app.exception
    assert f"The network says **{name}**" in texts(app)


def test_every_layer_has_maps_and_kernels(app):
    for name in MAP_LAYERS:
        assert has_chart(app, f"tv_maps_{name}"), name
    for name in CONV_LAYERS:
        assert has_chart(app, f"tv_kernels_{name}"), name
    assert has_chart(app, "tv_rgb_kernels_conv1_1")
    assert has_chart(app, "tv_fc1_chart")
    assert has_chart(app, "tv_fc2_chart")


def test_first_maps_have_eight_channels(app):
    spec = chart_spec(app, "tv_maps_conv1_1")
    labels = decode(spec["data"][0]["customdata"])[..., 0]
    assert set(labels[~np.isnan(labels)].astype(int)) == set(range(8))


def test_page_shows_test_accuracy(app):
    assert "freshly drawn images" in texts(app)
    assert has_chart(app, "tv_confusion_chart")


def test_upload_is_classified(app):
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[16:48, 32:64] = (255, 200, 0)  # a yellow square on black
    choose_upload(app)
    app.file_uploader(key="tv_upload").upload(
        "square.png", png_bytes(rgb), "image/png").run()
    assert not app.exception
    assert "The network says **" in texts(app)
    assert has_chart(app, "tv_input_chart")


def test_small_upload_is_noted_as_enlarged(app):
    choose_upload(app)
    app.file_uploader(key="tv_upload").upload(
        "tiny.png", png_bytes(np.full((8, 12, 3), 200, np.uint8)),
        "image/png").run()
    assert not app.exception
    notes = [info.value for info in app.info if "enlarged" in info.value]
    assert len(notes) == 1
    assert "12x8 pixels" in notes[0]
    assert "32x32" in notes[0]
    assert has_chart(app, "tv_input_chart")


def test_large_upload_has_no_enlargement_note(app):
    choose_upload(app)
    app.file_uploader(key="tv_upload").upload(
        "big.png", png_bytes(np.zeros((64, 96, 3), np.uint8)),
        "image/png").run()
    assert not any("enlarged" in info.value for info in app.info)


def test_bad_upload_shows_error(app):
    choose_upload(app)
    app.file_uploader(key="tv_upload").upload(
        "notes.png", b"not an image", "image/png").run()
    assert not app.exception
    assert "cannot be used" in app.error[0].value
    assert not has_chart(app, "tv_probability_chart")


def test_upload_without_file_asks_for_one(app):
    choose_upload(app)
    assert not app.exception
    assert any("Upload a PNG" in element.value for element in app.info)


def test_retraining_one_epoch_updates_loss_curve(app):
    start_small_run(app, images=120, epochs=1)
    train_until_done(app)
    assert not app.exception
    trainer = app.session_state["tv_trainer"]
    spec = chart_spec(app, "tv_loss_chart")
    batches, epochs = spec["data"]
    assert len(decode(batches["y"])) == trainer.batches_per_epoch == 4
    assert decode(epochs["y"]).tolist() == pytest.approx(trainer.epoch_losses)
    assert "your run from random weights, after epoch 1 of 1" in captions(app)


def test_retraining_replaces_network_on_show(app):
    shipped = weights_digest(load_tinyvgg().network)
    start_small_run(app, images=120, epochs=1)
    train_until_done(app)
    shown = weights_digest(app.session_state["tv_network"])
    assert shown != shipped
    assert shown == weights_digest(app.session_state["tv_trainer"].network)


def test_stop_mid_epoch_keeps_weights_on_show(app):
    shipped = weights_digest(load_tinyvgg().network)
    # 6,000 images are 188 batches, far more than one 0.4 s chunk trains.
    start_small_run(app, images=6000, epochs=1)
    app.button(key="tv_stop").click().run()
    assert not app.exception
    trainer = app.session_state["tv_trainer"]
    assert trainer.iteration >= 1
    assert trainer.epoch == 0
    assert weights_digest(app.session_state["tv_network"]) == shipped
    assert "Stopped during epoch 1" in captions(app)


def test_restore_brings_back_shipped_weights(app):
    shipped = weights_digest(load_tinyvgg().network)
    start_small_run(app, images=120, epochs=1)
    train_until_done(app)
    app.button(key="tv_restore").click().run()
    assert weights_digest(app.session_state["tv_network"]) == shipped
    assert "the shipped weights" in captions(app)
    assert not has_chart(app, "tv_loss_chart")
