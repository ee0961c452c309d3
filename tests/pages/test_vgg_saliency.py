"""Tests for the "Which pixels matter" section of the VGG16 page.

The page runs VGG16 with random weights: every test gets an empty weights
cache folder, so weights downloaded on this machine are not used. Each
map needs at least one VGG16 forward pass, so the page's cache keeps maps
from one test to the next.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import vgg_download
import vgg_models
from engine.predict import Prediction, class_names
from engine.saliency import SaliencyMap
from engine.vgg import CONFIGS
from vgg_saliency import OTHER_CLASS, MapCache, class_label, grad_cam_layers

PAGE = Path(__file__).resolve().parents[2] / "pages" / "3_VGG16.py"
TIMEOUT_S = 180
OTHER_INDEX = 7  # "cock", not the random network's top class for the sample
CHARTS = {
    "gradient": "vgg_sal_gradient_chart",
    "grad_cam": "vgg_sal_cam_chart",
    "occlusion": "vgg_sal_occlusion_chart",
}


@pytest.fixture(autouse=True)
def weights_cache(tmp_path, monkeypatch) -> None:
    """An empty weights cache folder and no download address overrides."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for config in CONFIGS:
        monkeypatch.delenv(vgg_download.url_variable(config), raising=False)


@pytest.fixture
def app() -> AppTest:
    """The page after its first run with the default sample photo."""
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()


def chart_titles(app: AppTest) -> dict[str, str]:
    """Return the title of each saliency chart on the page, by method."""
    titles = {}
    for chart in app.get("plotly_chart"):
        for method, key in CHARTS.items():
            if key in chart.proto.id:
                spec = json.loads(chart.proto.spec)
                titles[method] = spec["layout"]["title"]["text"]
    return titles


def explained_class(app: AppTest) -> str:
    lines = [each.value for each in app.markdown
             if each.value.startswith("Explaining class")]
    assert len(lines) == 1
    return lines[0]


def test_section_draws_gradient_and_grad_cam(app):
    assert not app.exception
    titles = chart_titles(app)
    assert "gradient" in titles
    assert "grad_cam" in titles
    assert "occlusion" not in titles
    assert app.selectbox(key="vgg_sal_layer").value == "conv5_3"
    assert any("random network" in each.value for each in app.info)


def test_other_class_changes_the_class_shown(app):
    top_class = app.selectbox(key="vgg_sal_class").value
    assert top_class != OTHER_INDEX
    app.selectbox(key="vgg_sal_class").set_value(OTHER_CLASS).run()
    app.number_input(key="vgg_sal_index").set_value(OTHER_INDEX).run()
    assert not app.exception
    name = class_names()[OTHER_INDEX]
    assert explained_class(app) == f"Explaining class {OTHER_INDEX}, **{name}**."
    titles = chart_titles(app)
    assert titles["gradient"].startswith(f"{name}:")
    assert titles["grad_cam"].startswith(f"{name}:")


def test_random_weights_list_classes_without_probability(app):
    box = app.selectbox(key="vgg_sal_class")
    *classes, other = box.options
    assert len(classes) == vgg_models.TOP_K
    for label in classes:
        match = re.fullmatch(r"Class (\d+): (.+)", label)
        assert match is not None, label
        assert match[2] == class_names()[int(match[1])]
    assert box.value == int(re.match(r"Class (\d+)", classes[0])[1])
    assert other == "Another class, by its index"
    assert any("these 5 classes mean nothing" in each.value
               for each in app.caption)
    assert "by chance with random weights" in box.help


def test_class_label_shows_probability_when_pretrained():
    prediction = Prediction(281, "tabby", 0.4012)
    assert class_label(prediction, pretrained=True) == (
        "tabby (class 281, probability 40.1%)")
    assert class_label(prediction, pretrained=False) == "Class 281: tabby"


def test_grad_cam_layer_choice_runs(app):
    app.selectbox(key="vgg_sal_layer").set_value("conv4_3").run()
    assert not app.exception
    assert "grad_cam" in chart_titles(app)


def test_occlusion_button_draws_map(app):
    assert "occlusion" not in chart_titles(app)
    app.select_slider(key="vgg_sal_patch").set_value(112)
    app.select_slider(key="vgg_sal_stride").set_value(112).run()
    label = app.button(key="vgg_sal_occlude").label
    assert label == "Run occlusion (4 occluded photos)"
    app.button(key="vgg_sal_occlude").click().run()
    assert not app.exception
    assert "occlusion" in chart_titles(app)

    # The map stays on screen after a rerun that does not press the button.
    app.slider(key="vgg_sal_opacity").set_value(0.3).run()
    assert "occlusion" in chart_titles(app)


def test_grad_cam_layers_pair_conv_with_relu():
    layers = grad_cam_layers(vgg_models.random_model("vgg16").network)
    assert len(layers) == 13
    assert layers["conv1_1"] == "relu1_1"
    assert layers["conv5_3"] == "relu5_3"


def test_map_cache_drops_least_recently_used():
    cache = MapCache(max_entries=2)
    maps = [SaliencyMap(np.zeros((2, 2)), index, 0.0) for index in range(3)]
    cache.put(("a",), maps[0])
    cache.put(("b",), maps[1])
    assert cache.get(("a",)) is maps[0]  # "a" is now the most recent
    cache.put(("c",), maps[2])
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is maps[0]
    assert cache.get(("c",)) is maps[2]
