"""Tests for the VGG16 page through Streamlit's AppTest, and for what it is built on.

Networks are built once per test process (about 3 s for VGG16) and shared
by every test through Streamlit's resource cache, as on the server. Every
test gets an empty weights cache folder, so weights downloaded on this
machine do not change what the page shows.
"""

import base64
import dataclasses
import functools
import hashlib
import http.server
import io
import json
import shutil
import socket
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine.vgg
import ui
import vgg_download
import vgg_models
import vgg_weights
from engine.channel_stats import rank_channels_by_mean
from engine.features import conv_feature_maps, receptive_field
from engine.images import (
    ImageError,
    load_image,
    preprocess_caffe,
    preprocess_imagenet,
)
from engine.pretrained import load_pretrained
from engine.weights import convert_weights
from figures.vgg_table import architecture_rows, parameter_figure, table_records
from tests.fixtures.micro import MICRO, MICRO_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "pages" / "3_VGG16.py"
ROCKET = REPO_ROOT / "assets" / "samples" / "rocket.jpg"
MICRO_PTH = REPO_ROOT / "tests" / "fixtures" / "vgg_micro" / "micro_zip.pth"
TIMEOUT_S = 120
VGG16_PARAMETERS = 138_357_544
MAP_LAYERS = [
    "conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2",
    "conv3_1", "conv3_2", "conv3_3", "pool3", "conv4_1", "conv4_2", "conv4_3",
    "pool4", "conv5_1", "conv5_2", "conv5_3", "pool5",
]


@pytest.fixture(autouse=True)
def weights_cache(tmp_path, monkeypatch) -> Path:
    """An empty weights cache folder, no download address overrides, and the
    micro VGG16 of the fixtures as one more configuration."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for config in [*engine.vgg.CONFIGS, MICRO_NAME]:
        monkeypatch.delenv(vgg_download.url_variable(config), raising=False)
    monkeypatch.setitem(engine.vgg.CONFIGS, MICRO_NAME, MICRO)
    return tmp_path / "cache" / "nn-explainer"


@pytest.fixture
def app() -> AppTest:
    """The page after its first run with the default sample photo."""
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()


@pytest.fixture(scope="module")
def network():
    return vgg_models.random_model("vgg16").network


@pytest.fixture(scope="module")
def cat_tensor() -> np.ndarray:
    data = (ui.SAMPLES_DIR / ui.DEFAULT_SAMPLE).read_bytes()
    return preprocess_imagenet(load_image(data)).tensor


@pytest.fixture(scope="module")
def micro_npz(tmp_path_factory) -> Path:
    """The micro weights as npz, which names its configuration."""
    path = tmp_path_factory.mktemp("weights") / "micro.npz"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(engine.vgg.CONFIGS, MICRO_NAME, MICRO)
        convert_weights(MICRO_PTH, path, MICRO_NAME)
    return path


@pytest.fixture
def weights_server(tmp_path):
    """Serve files from a folder on 127.0.0.1; yields (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


def chart_spec(at: AppTest, key: str) -> dict:
    """Return the Plotly JSON of the chart with widget key `key`."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no Plotly chart with key {key!r} on the page")


def chart_keys(at: AppTest) -> set[str]:
    return {chart.proto.id.rsplit("-", 1)[-1] for chart in at.get("plotly_chart")}


def decode(array: dict | list) -> np.ndarray:
    """Decode an array of Plotly JSON, which plotly.py writes as base64."""
    if isinstance(array, list):
        return np.asarray(array, dtype=float)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    shape = [int(size) for size in str(array.get("shape", len(values))).split(",")]
    return values.reshape(shape)


def grid_channels(at: AppTest) -> list[int]:
    """Return the channel indices that the feature-map grid shows, in order."""
    labels = decode(chart_spec(at, "vgg_grid_chart")["data"][0]["customdata"])
    labels = labels[..., 0].ravel()  # row by row, so tiles appear in order
    return list(dict.fromkeys(int(label) for label in labels[~np.isnan(labels)]))


def choose_layer(at: AppTest, name: str) -> AppTest:
    return at.selectbox(key="vgg_layer").set_value(name).run()


def texts(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


def table(at: AppTest, first_column: str):
    """Return the dataframe whose first column is `first_column`.

    AppTest gives a display-only dataframe no key, so tables are found by
    their columns.
    """
    for dataframe in at.dataframe:
        if dataframe.value.columns[0] == first_column:
            return dataframe.value
    raise AssertionError(f"no table with first column {first_column!r}")


def header(at: AppTest, number: int) -> str:
    return next(h.value for h in at.header if h.value.startswith(f"{number}. "))


def parameter_total(at: AppTest) -> list[str]:
    return [m.value for m in at.metric if m.label == "Parameters in total"]


def upload_weights(at: AppTest, name: str, data: bytes) -> AppTest:
    """Switch on the own weights file and upload `data` as `name`."""
    if not at.toggle(key=vgg_weights.OWN_FILE_KEY).value:
        at.toggle(key=vgg_weights.OWN_FILE_KEY).set_value(True).run()
    uploader = at.file_uploader(key=vgg_weights.UPLOAD_KEY)
    return uploader.upload(name, data, "application/octet-stream").run()


def served_micro(folder: Path) -> str:
    """Copy the micro .pth into `folder` under a name with its SHA-256 prefix."""
    digest = hashlib.sha256(MICRO_PTH.read_bytes()).hexdigest()
    name = f"{MICRO_NAME}-{digest[:8]}.pth"
    shutil.copy(MICRO_PTH, folder / name)
    return name


def error_detail(at: AppTest) -> str:
    """Return the text of the sidebar's one "Technical detail" expander."""
    (expander,) = [each for each in at.sidebar.expander
                   if each.label == "Technical detail"]
    return expander.text[0].value


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The page with the default sample photo and random weights.


def test_page_runs_without_exception(app):
    assert not app.exception


def test_page_shows_random_weights_banner(app):
    assert len(app.warning) == 1
    banner = app.warning[0].value
    assert "runs on random weights" in banner
    assert "Download the pretrained VGG16 weights" in banner
    assert "Use my own weights file" in banner


def test_random_weights_hide_predictions(app):
    assert "vgg_predictions_chart" not in chart_keys(app)
    assert any("meaningless" in info.value for info in app.info)


def test_page_offers_download_when_not_cached(app):
    assert app.button(key=vgg_download.DOWNLOAD_KEY).label == (
        "Download the pretrained VGG16 weights")
    assert "Weights in use: random He weights." in [c.value for c in app.caption]


def test_page_shows_parameter_total(app):
    assert parameter_total(app) == ["138,357,544"]
    macs = [m.value for m in app.metric if m.label == "MACs per image"]
    assert macs == ["15.47 G"]


def test_default_sample_is_cat(app):
    assert app.radio(key="vgg_photo").value == ui.DEFAULT_SAMPLE
    assert any("Stefan van der Walt" in caption.value for caption in app.caption)


def test_default_grid_shows_first_channels(app):
    spec = chart_spec(app, "vgg_grid_chart")

    assert spec["data"][0]["type"] == "heatmap"
    assert grid_channels(app) == list(range(32))


@pytest.mark.parametrize(
    "key",
    ["vgg_original_chart", "vgg_resized_chart", "vgg_cropped_chart",
     "vgg_input_chart", "vgg_parameter_chart", "vgg_grid_chart",
     "vgg_field_chart", "vgg_channel_chart"],
)
def test_page_draws_chart(app, key):
    assert chart_spec(app, key)["data"]


# The preprocessing inspector.


@pytest.mark.parametrize(
    "value", ["2.2489", "-2.0357", "-1.8044", "-103.939", "-116.779", "131.32"])
def test_inspector_shows_red_pixel(app, value):
    assert f"{value}" in texts(app)


def test_inspector_marks_recipe_in_use(app):
    assert "torchvision recipe (used here), channels R, G, B" in texts(app)
    assert "caffe recipe, channels B, G, R" in texts(app)


def test_inspector_input_heatmaps_are_normalised(app):
    spec = chart_spec(app, "vgg_input_chart")
    z = decode(spec["data"][0]["z"])

    assert len(spec["data"]) == 3
    assert z.shape == (224, 224)
    assert z.min() < 0 < z.max()


def test_inspector_table_has_each_stage(app):
    stats = table(app, "stage")

    assert len(stats) == 12  # 4 stages x 3 channels
    assert stats["stage"].iloc[0] == "original 451×300"
    assert set(stats["channel"]) == {"R", "G", "B"}
    assert stats["max"].iloc[:9].max() <= 255
    normalised = stats[stats["stage"].str.startswith("normalised")]
    assert normalised["min"].min() < 0


# The configurations and the architecture table.


@pytest.mark.parametrize(
    ("config", "total"),
    [("vgg11", "132,863,336"), ("vgg13", "133,047,848"), ("vgg19", "143,667,240")],
)
def test_configuration_shows_its_total(app, config, total):
    app.selectbox(key="vgg_config").set_value(config).run()

    assert not app.exception
    assert parameter_total(app) == [total]
    assert app.title[0].value == config.upper()
    assert "runs on random weights" in app.warning[0].value


def test_layer_moves_to_block_pool_in_smaller_network(app):
    choose_layer(app, "conv1_2")

    app.selectbox(key="vgg_config").set_value("vgg11").run()

    assert not app.exception
    assert app.selectbox(key="vgg_layer").value == "pool1"


def test_architecture_table_columns(app):
    rows = table(app, "layer").set_index("layer")

    assert rows.loc["conv1_1", "MACs"] == 64 * 224 * 224 * 27
    assert rows.loc["conv1_1", "activation memory"] == pytest.approx(12.25)
    assert rows.loc["pool5", "receptive field"] == 212
    assert rows.loc["pool5", "jump"] == 32
    assert np.isnan(rows.loc["fc6", "jump"])


# Choosing layers, channels and views.


@pytest.mark.parametrize("name", ["conv1_2", "pool3", "conv4_1", "pool5"])
def test_layer_choice_redraws_maps(app, name):
    choose_layer(app, name)

    assert not app.exception
    assert header(app, 5) == f"5. Feature maps of {name}"
    z = decode(chart_spec(app, "vgg_channel_chart")["data"][0]["z"])
    size = {"conv1_2": 224, "pool3": 28, "conv4_1": 28, "pool5": 7}[name]
    assert z.shape == (size, size)


def test_layer_from_query_parameter():
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.query_params["vgg_layer"] = "pool3"

    at.run()

    assert at.selectbox(key="vgg_layer").value == "pool3"
    assert header(at, 5) == "5. Feature maps of pool3"


def test_layer_options_are_conv_and_pool(app):
    assert app.selectbox(key="vgg_layer").options[0].startswith("conv1_1")
    assert len(app.selectbox(key="vgg_layer").options) == len(MAP_LAYERS)


def test_relu_toggle_shows_negative_values(app):
    app.toggle(key="vgg_relu").set_value(False).run()

    raw = decode(chart_spec(app, "vgg_grid_chart")["data"][0]["customdata"])[..., 1]
    assert np.nanmin(raw) < 0
    assert "before ReLU" in texts(app)


def test_relu_toggle_hidden_for_pool_and_kept(app):
    app.toggle(key="vgg_relu").set_value(False).run()

    choose_layer(app, "pool2")
    assert not [toggle for toggle in app.toggle if toggle.key == "vgg_relu"]

    choose_layer(app, "conv2_1")
    assert app.toggle(key="vgg_relu").value is False


def test_channel_count_limited_by_layer(app):
    app.select_slider(key="vgg_count").set_value(512).run()

    assert grid_channels(app) == list(range(64))
    assert "conv1_1 has only 64 channels." in [c.value for c in app.caption]


def test_grid_draws_all_512_channels(app):
    choose_layer(app, "conv5_3")
    app.select_slider(key="vgg_count").set_value(512).run()

    spec = chart_spec(app, "vgg_grid_chart")
    assert len(spec["data"]) == 1  # one mosaic image
    assert sorted(grid_channels(app)) == list(range(512))


def test_strongest_order_ranks_by_mean_activation(app, network):
    app.radio(key="vgg_order").set_value("strongest").run()
    app.select_slider(key="vgg_count").set_value(16).run()
    app.button(key="vgg_strongest_button").click().run()

    data = (ui.SAMPLES_DIR / ui.DEFAULT_SAMPLE).read_bytes()
    stages = vgg_models.photo_stages(data, ui.image_digest(data), "torchvision",
                                     "VGG16")
    maps = conv_feature_maps(network, stages.tensor)["conv1_1"]
    ranked = rank_channels_by_mean(np.maximum(maps, 0))
    assert sorted(grid_channels(app)) == sorted(ranked[:16].tolist())
    assert app.number_input(key="vgg_channel").value == ranked[0]
    assert "ranked by mean activation" in texts(app)


def test_channel_clamped_to_smaller_layer(app):
    choose_layer(app, "pool5")
    app.number_input(key="vgg_channel").set_value(300).run()

    choose_layer(app, "conv1_1")

    assert not app.exception
    assert app.number_input(key="vgg_channel").value == 63


def test_recomputed_value_matches_engine(app):
    choose_layer(app, "conv2_1")

    check = app.latex[-1].value
    assert r"\text{difference}" in check
    difference = check.split(r"\text{difference} = ")[1].split(r"\end")[0]
    assert "10^{-" in difference  # below 1, written in exponent notation


# The time of each layer.


def test_timing_chart_after_toggle(app):
    assert "vgg_timing_chart" not in chart_keys(app)

    app.toggle(key="vgg_timing").set_value(True).run()

    assert not app.exception
    names = chart_spec(app, "vgg_timing_chart")["data"][0]["x"]
    assert names[0] == "conv1_1"
    assert len(names) == len(vgg_models.random_model("vgg16").network.layers)
    labels = [m.label for m in app.metric]
    assert {"Forward pass", "Average speed", "Slowest layer"} <= set(labels)


def test_timing_runs_once_per_photo_and_weights(app, monkeypatch):
    calls = []

    def counting_time_layers(network, X):
        calls.append(X.shape)
        return [(layer.name, 0.001) for layer in network.layers]

    monkeypatch.setattr(vgg_models, "time_layers", counting_time_layers)
    vgg_models.layer_times.clear()

    app.toggle(key="vgg_timing").set_value(True).run()
    choose_layer(app, "pool2")

    assert calls == [(1, 3, 224, 224)]


# Photo uploads.


def test_bad_upload_shows_error_and_keeps_page(app):
    app.file_uploader(key="vgg_upload").upload(
        "notes.png", b"plain text, not a PNG", "image/png").run()

    assert not app.exception
    assert len(app.error) == 1
    assert "notes.png" in app.error[0].value
    assert "not an image that Pillow can read" in app.error[0].value
    assert parameter_total(app)


def test_sample_after_bad_upload_shows_maps(app):
    app.file_uploader(key="vgg_upload").upload(
        "notes.png", b"plain text, not a PNG", "image/png").run()

    app.radio(key="vgg_photo").set_value("coffee.png").run()

    assert not app.error
    assert grid_channels(app) == list(range(32))


def test_upload_selects_and_runs_photo(app):
    app.file_uploader(key="vgg_upload").upload(
        "rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()

    assert not app.exception
    assert app.radio(key="vgg_photo").value == ui.UPLOAD_CHOICE
    assert "640×427 pixels" in texts(app)
    assert grid_channels(app) == list(range(32))


def test_removing_upload_returns_to_default(app):
    uploader = app.file_uploader(key="vgg_upload")
    uploader.upload("rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()

    app.file_uploader(key="vgg_upload").clear().run()

    assert app.radio(key="vgg_photo").value == ui.DEFAULT_SAMPLE


def test_tiny_photo_is_noted_as_enlarged(app):
    app.file_uploader(key="vgg_upload").upload(
        "tiny.png", png_bytes(2, 2), "image/png").run()

    assert not app.exception
    notes = [info.value for info in app.info if "enlarged" in info.value]
    assert len(notes) == 1
    assert notes[0].startswith("The photo is 2x2 pixels, and its shorter side "
                               "is smaller than the network's 224x224 input")
    assert grid_channels(app) == list(range(32))


def test_large_photo_has_no_enlargement_note(app):
    assert not any("enlarged" in info.value for info in app.info)


def test_long_photo_error_names_chosen_network(app):
    app.selectbox(key=vgg_weights.CONFIG_KEY).set_value("vgg11").run()
    app.file_uploader(key="vgg_upload").upload(
        "strip.png", png_bytes(2100, 100), "image/png").run()

    assert not app.exception
    assert len(app.error) == 1
    assert "the centre square that VGG11 sees" in app.error[0].value


def test_upload_choice_without_file_asks_for_one(app):
    app.radio(key="vgg_photo").set_value(ui.UPLOAD_CHOICE).run()

    assert not app.exception
    assert any("Upload a photo" in info.value for info in app.info)


# Weights files: upload, download and the cache.


def test_weights_upload_shows_predictions(app, micro_npz):
    upload_weights(app, "micro.npz", micro_npz.read_bytes())

    assert not app.exception
    assert app.selectbox(key="vgg_config").value == MICRO_NAME
    assert not app.warning
    assert "your file micro.npz" in app.success[0].value
    spec = chart_spec(app, "vgg_predictions_chart")
    assert spec["data"][0]["orientation"] == "h"
    assert len(spec["data"][0]["x"]) == vgg_models.TOP_K


def test_weights_upload_predictions_match_engine(app, micro_npz):
    upload_weights(app, "micro.npz", micro_npz.read_bytes())

    model = load_pretrained(micro_npz)
    data = (ui.SAMPLES_DIR / ui.DEFAULT_SAMPLE).read_bytes()
    expected = model.classify(load_image(data), vgg_models.TOP_K)
    ticks = chart_spec(app, "vgg_predictions_chart")["layout"]["yaxis"]["ticktext"]
    assert ticks == [prediction.label for prediction in expected]


def test_caffe_weights_show_caffe_recipe(app):
    # The cache is filled first under the key of the bytes uploaded next, so
    # the page gets a network with the caffe recipe without a Keras file.
    data = b"stands in for a Keras file"
    key = "sha256:" + hashlib.sha256(data).hexdigest()

    def load_as_keras():
        model = load_pretrained(MICRO_PTH, MICRO_NAME)
        return dataclasses.replace(model, origin="keras-h5",
                                   preprocess=preprocess_caffe)

    vgg_models.file_model(key, load_as_keras)
    upload_weights(app, "micro.h5", data)

    assert not app.exception
    assert "caffe recipe (used here), channels B, G, R" in texts(app)
    assert "Keras HDF5" in app.success[0].value
    assert r"\text{(BGR order, 0 to 255)}" in app.latex[0].value
    stats = table(app, "stage")
    normalised = stats[stats["stage"].str.startswith("normalised")]
    assert list(normalised["channel"]) == ["B", "G", "R"]
    assert normalised["min"].min() < -50  # the 0 to 255 scale, mean removed


def test_bad_weights_file_keeps_previous_weights(app, micro_npz):
    upload_weights(app, "micro.npz", micro_npz.read_bytes())

    upload_weights(app, "broken.pth", b"not a weights file")

    assert not app.exception
    assert len(app.error) == 1
    assert "broken.pth" in app.error[0].value
    assert "not a weights file that can be read" in app.error[0].value
    assert "your file micro.npz" in app.success[0].value
    assert "vgg_predictions_chart" in chart_keys(app)


def test_bad_weights_error_is_plain_with_detail_folded(app):
    upload_weights(app, "random.pth", b"\xf6\x91 random bytes")

    message = app.error[0].value
    assert message.startswith("**random.pth** cannot be used. This file is "
                              "not a weights file that can be read.")
    assert "torch.save(model.state_dict())" in message
    assert "bytes f6 91" not in message
    detail = error_detail(app)
    assert "starts with bytes f6 91" in detail
    assert "nn-explainer-" not in detail  # no temporary path


def test_hostile_weights_file_says_code_is_never_run(app):
    hostile = REPO_ROOT / "tests" / "fixtures" / "weights" / \
        "hostile_os_system_zip.pth"
    upload_weights(app, "model.pth", hostile.read_bytes())

    message = app.error[0].value
    assert "This .pth file contains code to run" in message
    assert "rejected global" not in message
    assert "rejected global os.system" in error_detail(app)
    assert "runs on random weights" in app.warning[0].value


def test_replacing_upload_keeps_weights_through_empty_run(app, micro_npz):
    upload_weights(app, "micro.npz", micro_npz.read_bytes())
    # A browser that replaces the file sends one run with the uploader empty.
    app.file_uploader(key=vgg_weights.UPLOAD_KEY).clear().run()

    upload_weights(app, "broken.pth", b"not a weights file")

    assert not app.exception
    assert "broken.pth" in app.error[0].value
    assert "your file micro.npz" in app.success[0].value


def test_bad_weights_file_first_keeps_random(app):
    upload_weights(app, "broken.h5", b"\x89HDF\r\n\x1a\n but cut short")

    assert not app.exception
    assert len(app.error) == 1
    assert "broken.h5" in app.error[0].value
    assert "runs on random weights" in app.warning[0].value
    assert parameter_total(app) == ["138,357,544"]


def test_weights_switch_off_returns_to_random(app, micro_npz):
    upload_weights(app, "micro.npz", micro_npz.read_bytes())

    app.toggle(key=vgg_weights.OWN_FILE_KEY).set_value(False).run()

    assert "runs on random weights" in app.warning[0].value


def test_weights_uploader_states_server_limit(app):
    app.toggle(key=vgg_weights.OWN_FILE_KEY).set_value(True).run()

    config_text = (REPO_ROOT / ".streamlit" / "config.toml").read_text()
    server_limit_mb = tomllib.loads(config_text)["server"]["maxUploadSize"]
    assert vgg_weights.MAX_WEIGHTS_MB == server_limit_mb
    captions = [caption.value for caption in app.caption]
    assert any(caption.startswith(f"At most {server_limit_mb} MB per file.")
               for caption in captions), captions


def test_weights_file_loaded_once(app, micro_npz, monkeypatch):
    loads = []
    real_load = vgg_weights.load_pretrained

    def counting_load(path, config=None):
        loads.append(Path(path).name)
        return real_load(path, config)

    monkeypatch.setattr(vgg_weights, "load_pretrained", counting_load)
    vgg_models.file_model.clear()

    upload_weights(app, "micro.npz", micro_npz.read_bytes())
    choose_layer(app, "pool2")
    second = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()
    upload_weights(second, "same-bytes.npz", micro_npz.read_bytes())

    assert loads == ["micro.npz"]
    assert "vgg_predictions_chart" in chart_keys(second)


def test_download_fills_cache_and_loads(app, weights_server, weights_cache,
                                        monkeypatch):
    folder, base_url = weights_server
    name = served_micro(folder)
    monkeypatch.setenv(vgg_download.url_variable(MICRO_NAME), f"{base_url}/{name}")
    app.selectbox(key="vgg_config").set_value(MICRO_NAME).run()

    app.button(key=vgg_download.DOWNLOAD_KEY).click().run()

    assert not app.exception
    assert not app.error
    assert (weights_cache / name).with_suffix(".npz").exists()
    assert any("downloaded ImageNet weights" in s.value for s in app.success)
    assert any(s.value.startswith("Saved the weights") for s in app.success)
    assert "vgg_predictions_chart" in chart_keys(app)
    assert not [b for b in app.button if b.key == vgg_download.DOWNLOAD_KEY]


def test_download_failure_shows_error(app, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/{MICRO_NAME}-0123abcd.pth"
    monkeypatch.setenv(vgg_download.url_variable(MICRO_NAME), url)
    app.selectbox(key="vgg_config").set_value(MICRO_NAME).run()

    app.button(key=vgg_download.DOWNLOAD_KEY).click().run()

    assert not app.exception
    assert len(app.error) == 1
    assert app.error[0].value.startswith("The download failed: download of")
    assert "refused" in app.error[0].value
    assert "runs on random weights" in app.warning[0].value


def test_download_of_hostile_file_shows_plain_error(app, weights_server,
                                                  monkeypatch):
    folder, base_url = weights_server
    hostile = REPO_ROOT / "tests" / "fixtures" / "weights" / \
        "hostile_os_system_zip.pth"
    digest = hashlib.sha256(hostile.read_bytes()).hexdigest()
    name = f"{MICRO_NAME}-{digest[:8]}.pth"
    shutil.copy(hostile, folder / name)
    monkeypatch.setenv(vgg_download.url_variable(MICRO_NAME), f"{base_url}/{name}")
    app.selectbox(key="vgg_config").set_value(MICRO_NAME).run()

    app.button(key=vgg_download.DOWNLOAD_KEY).click().run()

    assert not app.exception
    assert len(app.error) == 1
    assert app.error[0].value.startswith(
        "The downloaded file cannot be used. This .pth file contains code to "
        "run")
    assert "rejected global os.system" in error_detail(app)


def test_damaged_cached_weights_show_plain_error(weights_server, weights_cache,
                                                 monkeypatch):
    folder, base_url = weights_server
    name = served_micro(folder)
    monkeypatch.setenv(vgg_download.url_variable(MICRO_NAME), f"{base_url}/{name}")
    weights_cache.mkdir(parents=True)
    cached = (weights_cache / name).with_suffix(".npz")
    cached.write_bytes(b"PK\x03\x04 cut short")
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[vgg_weights.CONFIG_KEY] = MICRO_NAME

    at.run()

    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith(f"The downloaded weights in {cached} cannot be "
                              f"used. The file is damaged or incomplete")
    assert "corrupt zip archive" not in message
    assert "corrupt zip archive" in error_detail(at)
    assert "runs on random weights" in at.warning[0].value


def test_cached_weights_used_automatically(weights_server, weights_cache,
                                          monkeypatch):
    folder, base_url = weights_server
    name = served_micro(folder)
    monkeypatch.setenv(vgg_download.url_variable(MICRO_NAME), f"{base_url}/{name}")
    weights_cache.mkdir(parents=True)
    convert_weights(MICRO_PTH, (weights_cache / name).with_suffix(".npz"),
                    MICRO_NAME)
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[vgg_weights.CONFIG_KEY] = MICRO_NAME

    at.run()

    assert not app_errors(at)
    assert "downloaded ImageNet weights" in at.success[0].value
    assert "vgg_predictions_chart" in chart_keys(at)


def app_errors(at: AppTest) -> list[str]:
    return [*(e.value for e in at.exception), *(e.value for e in at.error)]


def test_upload_error_names_file_not_temporary_path():
    data = b"PK\x03\x04 a zip that ends here"
    upload = io.BytesIO(data)
    upload.name = "weights.pth"

    with pytest.raises(vgg_weights.WeightsError) as error:
        vgg_weights._upload_loader(upload)()

    assert "nn-explainer-" not in str(error.value)


# Caching of networks and photo results.


def test_file_model_shared_and_read_only():
    def load():
        return load_pretrained(MICRO_PTH, MICRO_NAME)

    first = vgg_models.file_model("test:micro", load)
    second = vgg_models.file_model("test:micro", load)

    assert first is second
    assert first.pretrained
    assert first.recipe.name == "torchvision"
    assert not any(layer.params[key].flags.writeable
                   for layer, key in first.network.parameters())


def test_widgets_do_not_rerun_forward_pass(monkeypatch):
    calls = []

    def counting_feature_maps(network, X):
        calls.append(X.shape)
        return conv_feature_maps(network, X)

    monkeypatch.setattr(vgg_models, "conv_feature_maps", counting_feature_maps)
    vgg_models.activations.clear()

    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()
    at.select_slider(key="vgg_count").set_value(64).run()
    choose_layer(at, "conv3_2")
    at.number_input(key="vgg_channel").set_value(7).run()

    assert not at.exception
    assert calls == [(1, 3, 224, 224)]


def test_cached_activations_are_shared_and_read_only():
    data = ROCKET.read_bytes()
    model = vgg_models.random_model("vgg16")
    stages = vgg_models.photo_stages(data, ui.image_digest(data), "torchvision",
                                     "VGG16")

    first = vgg_models.activations(model, model.key, stages, stages.key)
    second = vgg_models.activations(model, model.key, stages, stages.key)

    assert first is second
    assert set(first.maps) == set(MAP_LAYERS)
    arrays = [*first.maps.values(), stages.preview, stages.resized, stages.cropped,
              stages.tensor]
    assert not any(array.flags.writeable for array in arrays)
    assert all(array.flags.c_contiguous for array in first.maps.values())


def test_predictions_match_full_forward_pass():
    data = ROCKET.read_bytes()
    model = vgg_models.random_model("vgg16")
    stages = vgg_models.photo_stages(data, ui.image_digest(data), "torchvision",
                                     "VGG16")

    top = vgg_models.activations(model, model.key, stages, stages.key).top
    logits = model.network.predict(stages.tensor)[0]

    assert [p.index for p in top] == np.argsort(-logits)[:len(top)].tolist()


def test_long_strip_raises_image_error():
    buffer = io.BytesIO()
    Image.new("RGB", (2100, 100)).save(buffer, format="PNG")
    data = buffer.getvalue()

    with pytest.raises(ImageError, match="2100x100"):
        vgg_models.photo_stages(data, ui.image_digest(data), "torchvision",
                                "VGG16")


def test_bad_bytes_raise_image_error():
    data = b"GIF89a but truncated"

    with pytest.raises(ImageError):
        vgg_models.photo_stages(data, ui.image_digest(data), "torchvision",
                                "VGG16")


# Shared helpers in ui.py and vgg_weights.py.


def test_sample_photos_are_bundled():
    photos = ui.sample_photos()

    assert ui.DEFAULT_SAMPLE in photos
    assert set(photos) == {"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"}
    assert all(path.is_file() for path in photos.values())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chelsea.png", "Stefan van der Walt"),
        ("rocket.jpg", "SpaceX"),
        (None, "SOURCES.md"),
    ],
)
def test_sample_attribution(name, expected):
    assert expected in ui.sample_attribution(name)


@pytest.mark.parametrize(
    ("config", "variable"),
    [("vgg16", "NN_EXPLAINER_VGG16_URL"),
     (MICRO_NAME, "NN_EXPLAINER_VGG16_MICRO_URL")],
)
def test_url_variable_names(config, variable):
    assert vgg_download.url_variable(config) == variable


def test_download_url_defaults_to_torchvision():
    assert vgg_download.download_url("vgg16").startswith("https://download.pytorch")
    assert vgg_download.download_url(MICRO_NAME) is None


# engine.features: the maps kept and their receptive fields.


def test_feature_maps_match_network_layers(network, cat_tensor):
    maps = conv_feature_maps(network, cat_tensor)

    assert list(maps) == MAP_LAYERS
    assert maps["conv1_1"].shape == (64, 224, 224)
    assert maps["pool5"].shape == (512, 7, 7)
    assert maps["conv1_1"].min() < 0  # stored before ReLU


def test_feature_maps_reject_batch_of_two(network, cat_tensor):
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        conv_feature_maps(network, np.concatenate([cat_tensor, cat_tensor]))


@pytest.mark.parametrize(
    ("name", "size", "jump", "start"),
    [
        ("conv1_1", 3, 1, -1),
        ("relu1_1", 3, 1, -1),
        ("conv1_2", 5, 1, -2),
        ("pool1", 6, 2, -2),
        ("conv3_1", 24, 4, -10),
        ("pool3", 44, 8, -18),
        ("conv5_3", 196, 16, -90),
        ("pool5", 212, 32, -90),
    ],
)
def test_receptive_field_of_vgg16(network, name, size, jump, start):
    field = receptive_field(network, name)

    assert (field.size, field.jump, field.start) == (size, jump, start)


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [("conv1_1", 0, (0, 1)), ("conv1_1", 223, (222, 223)), ("pool5", 3, (6, 217))],
)
def test_receptive_field_window_clipped(network, name, index, expected):
    assert receptive_field(network, name).window(index, 224) == expected


def test_receptive_field_rejects_dense_layer(network):
    with pytest.raises(ValueError, match="flatten"):
        receptive_field(network, "fc6")


# figures.vgg_table: the architecture table.


def test_architecture_rows_fold_relu(network):
    rows = architecture_rows(network)

    assert [row.name for row in rows] == [
        "input", *MAP_LAYERS, "flatten", "fc6", "fc7", "fc8"]
    assert rows[1].operation.endswith("then ReLU")
    assert sum(row.n_params for row in rows) == VGG16_PARAMETERS


@pytest.mark.parametrize(
    ("name", "shape"),
    [("conv1_1", (64, 224, 224)), ("pool5", (512, 7, 7)), ("flatten", (25088,)),
     ("fc6", (4096,)), ("fc7", (4096,)), ("fc8", (1000,))],
)
def test_architecture_output_shapes(network, name, shape):
    rows = {row.name: row for row in architecture_rows(network)}

    assert rows[name].output_shape == shape


@pytest.mark.parametrize(
    ("name", "field", "jump"),
    [("input", 1, 1), ("conv1_1", 3, 1), ("pool1", 6, 2), ("conv5_3", 196, 16),
     ("pool5", 212, 32), ("fc8", 224, None)],
)
def test_architecture_receptive_fields(network, name, field, jump):
    row = next(row for row in architecture_rows(network) if row.name == name)

    assert row.receptive_field == field
    assert row.jump == jump


@pytest.mark.parametrize("name", ["conv1_1", "conv3_2", "conv5_3", "fc6", "fc8"])
def test_parameter_formula_adds_up(network, name):
    records = {r["layer"]: r for r in table_records(architecture_rows(network))}

    product, bias = records[name]["weights + biases"].split(" + ")
    weights = np.prod([int(factor) for factor in product.split("·")])
    assert weights + int(bias) == records[name]["parameters"]


@pytest.mark.parametrize("name", ["input", "pool1", "pool5", "flatten"])
def test_layer_without_parameters_has_no_formula(network, name):
    records = {r["layer"]: r for r in table_records(architecture_rows(network))}

    assert records[name]["parameters"] == 0
    assert records[name]["weights + biases"] == ""


def test_parameter_figure_has_bar_per_layer(network):
    rows = architecture_rows(network)

    figure = parameter_figure(rows)

    assert [len(trace.x) for trace in figure.data] == [len(rows)] * 3


def test_multiply_adds_of_vgg16(network):
    rows = {row.name: row for row in architecture_rows(network)}

    assert rows["conv1_1"].macs == 64 * 224 * 224 * 3 * 3 * 3
    assert rows["fc6"].macs == 4096 * 25088
    assert sum(row.macs for row in rows.values()) == 15_470_264_320


def test_activation_bytes_of_vgg16(network):
    rows = {row.name: row for row in architecture_rows(network)}

    assert rows["input"].activation_bytes == 3 * 224 * 224 * 4
    assert rows["conv1_1"].activation_bytes == 64 * 224 * 224 * 4
    assert rows["fc8"].activation_bytes == 1000 * 4
