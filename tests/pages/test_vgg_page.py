"""Tests for the VGG16 page through Streamlit's AppTest, and for what it is built on.

The network is built once per test process by `ui.vgg16` (about 2.5 s) and
shared by every test through Streamlit's resource cache, as on the server.
"""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import ui
from engine.features import conv_feature_maps, receptive_field
from engine.images import ImageError, load_image, preprocess_imagenet
from figures.vgg_table import architecture_rows, parameter_figure, table_records

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "pages" / "3_VGG16.py"
ROCKET = REPO_ROOT / "assets" / "samples" / "rocket.jpg"
TIMEOUT_S = 120
VGG16_PARAMETERS = 138_357_544
MAP_LAYERS = [
    "conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2",
    "conv3_1", "conv3_2", "conv3_3", "pool3", "conv4_1", "conv4_2", "conv4_3",
    "pool4", "conv5_1", "conv5_2", "conv5_3", "pool5",
]


@pytest.fixture
def app() -> AppTest:
    """The page after its first run with the default sample photo."""
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()


@pytest.fixture(scope="module")
def network():
    return ui.vgg16()


@pytest.fixture(scope="module")
def cat_tensor() -> np.ndarray:
    data = (ui.SAMPLES_DIR / ui.DEFAULT_SAMPLE).read_bytes()
    return preprocess_imagenet(load_image(data)).tensor


def chart_spec(at: AppTest, key: str) -> dict:
    """Return the Plotly JSON of the chart with widget key `key`."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no Plotly chart with key {key!r} on the page")


def decode(array: dict | list) -> np.ndarray:
    """Decode an array of Plotly JSON, which plotly.py writes as base64."""
    if isinstance(array, list):
        return np.asarray(array, dtype=float)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    shape = [int(size) for size in str(array.get("shape", len(values))).split(",")]
    return values.reshape(shape)


def grid_channels(at: AppTest) -> set[int]:
    """Return the channel indices that the feature-map grid shows."""
    labels = decode(chart_spec(at, "vgg_grid_chart")["data"][0]["customdata"])
    labels = labels[..., 0]
    return {int(label) for label in labels[~np.isnan(labels)]}


def choose_layer(at: AppTest, name: str) -> AppTest:
    return at.selectbox(key="vgg_layer").set_value(name).run()


def texts(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


# The page with the default sample photo.


def test_page_runs_without_exception(app):
    assert not app.exception


def test_page_shows_random_weights_banner(app):
    assert len(app.warning) == 1
    assert "random weights" in app.warning[0].value
    assert "no class predictions" in app.warning[0].value


def test_page_shows_parameter_total(app):
    totals = [m.value for m in app.metric if m.label == "Parameters in total"]

    assert totals == ["138,357,544"]


def test_default_sample_is_cat(app):
    assert app.radio(key="vgg_photo").value == ui.DEFAULT_SAMPLE
    assert any("Stefan van der Walt" in caption.value for caption in app.caption)


def test_default_grid_shows_first_channels(app):
    spec = chart_spec(app, "vgg_grid_chart")

    assert spec["data"][0]["type"] == "heatmap"
    assert grid_channels(app) == set(range(32))


@pytest.mark.parametrize(
    "key",
    ["vgg_resized_chart", "vgg_cropped_chart", "vgg_parameter_chart",
     "vgg_grid_chart", "vgg_field_chart", "vgg_channel_chart"],
)
def test_page_draws_chart(app, key):
    assert chart_spec(app, key)["data"]


# Choosing layers, channels and views.


@pytest.mark.parametrize("name", ["conv1_2", "pool3", "conv4_1", "pool5"])
def test_layer_choice_redraws_maps(app, name):
    choose_layer(app, name)

    assert not app.exception
    assert app.header[2].value == f"3. Feature maps of {name}"
    z = decode(chart_spec(app, "vgg_channel_chart")["data"][0]["z"])
    size = {"conv1_2": 224, "pool3": 28, "conv4_1": 28, "pool5": 7}[name]
    assert z.shape == (size, size)


def test_layer_from_query_parameter():
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.query_params["vgg_layer"] = "pool3"

    at.run()

    assert at.selectbox(key="vgg_layer").value == "pool3"
    assert at.header[2].value == "3. Feature maps of pool3"


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

    assert grid_channels(app) == set(range(64))
    assert "conv1_1 has only 64 channels." in [c.value for c in app.caption]


def test_strongest_order_starts_with_strongest(app):
    app.radio(key="vgg_order").set_value("strongest").run()
    app.select_slider(key="vgg_count").set_value(16).run()
    app.button(key="vgg_strongest_button").click().run()

    strongest = app.number_input(key="vgg_channel").value
    assert strongest in grid_channels(app)
    assert "strongest (highest mean)" in texts(app)


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


# Uploads.


def test_bad_upload_shows_error_and_keeps_page(app):
    app.file_uploader(key="vgg_upload").upload(
        "notes.png", b"plain text, not a PNG", "image/png").run()

    assert not app.exception
    assert len(app.error) == 1
    assert "notes.png" in app.error[0].value
    assert "not an image that Pillow can read" in app.error[0].value
    assert [m.value for m in app.metric if m.label == "Parameters in total"]


def test_sample_after_bad_upload_shows_maps(app):
    app.file_uploader(key="vgg_upload").upload(
        "notes.png", b"plain text, not a PNG", "image/png").run()

    app.radio(key="vgg_photo").set_value("coffee.png").run()

    assert not app.error
    assert grid_channels(app) == set(range(32))


def test_upload_selects_and_runs_photo(app):
    app.file_uploader(key="vgg_upload").upload(
        "rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()

    assert not app.exception
    assert app.radio(key="vgg_photo").value == ui.UPLOAD_CHOICE
    assert "640×427 pixels" in texts(app)
    assert grid_channels(app) == set(range(32))


def test_removing_upload_returns_to_default(app):
    uploader = app.file_uploader(key="vgg_upload")
    uploader.upload("rocket.jpg", ROCKET.read_bytes(), "image/jpeg").run()

    app.file_uploader(key="vgg_upload").clear().run()

    assert app.radio(key="vgg_photo").value == ui.DEFAULT_SAMPLE


def test_upload_choice_without_file_asks_for_one(app):
    app.radio(key="vgg_photo").set_value(ui.UPLOAD_CHOICE).run()

    assert not app.exception
    assert any("Upload a photo" in info.value for info in app.info)


# Caching: one forward pass per photo.


def test_widgets_do_not_rerun_forward_pass(monkeypatch):
    calls = []

    def counting_feature_maps(network, X):
        calls.append(X.shape)
        return conv_feature_maps(network, X)

    monkeypatch.setattr(ui, "conv_feature_maps", counting_feature_maps)
    ui.vgg16_activations.clear()

    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()
    at.select_slider(key="vgg_count").set_value(64).run()
    choose_layer(at, "conv3_2")
    at.number_input(key="vgg_channel").set_value(7).run()

    assert not at.exception
    assert calls == [(1, 3, 224, 224)]


def test_cached_activations_are_shared_and_read_only():
    data = ROCKET.read_bytes()

    first = ui.vgg16_activations(data, ui.image_digest(data))
    second = ui.vgg16_activations(data, ui.image_digest(data))

    assert first is second
    assert set(first.maps) == set(MAP_LAYERS)
    arrays = [*first.maps.values(), first.resized, first.cropped, first.tensor]
    assert not any(array.flags.writeable for array in arrays)
    assert all(array.flags.c_contiguous for array in first.maps.values())


def test_long_strip_raises_image_error():
    buffer = io.BytesIO()
    Image.new("RGB", (2100, 100)).save(buffer, format="PNG")
    data = buffer.getvalue()

    with pytest.raises(ImageError, match="2100x100"):
        ui.vgg16_activations(data, ui.image_digest(data))


def test_bad_bytes_raise_image_error():
    data = b"GIF89a but truncated"

    with pytest.raises(ImageError):
        ui.vgg16_activations(data, ui.image_digest(data))


# Shared helpers in ui.py.


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
