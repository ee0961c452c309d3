"""A narrow VGG16 saved by PyTorch: identical weights, matching logits,
and the predict command on it."""

import json
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

import engine.vgg
from engine.cli import main
from engine.pretrained import load_pretrained
from engine.weights import convert_weights, load_weights, read_torch_file
from tests.fixtures.micro import MICRO, MICRO_NAME

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vgg_micro"
SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"
FORMATS = ["micro_legacy.pth", "micro_zip.pth"]


@pytest.fixture(autouse=True)
def micro_config(monkeypatch):
    monkeypatch.setitem(engine.vgg.CONFIGS, MICRO_NAME, MICRO)


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "micro_reference.npz") as data:
        return {key: data[key] for key in data.files}


def test_both_formats_read_identical_arrays():
    legacy = read_torch_file(FIXTURES / FORMATS[0])
    modern = read_torch_file(FIXTURES / FORMATS[1])
    assert legacy.keys() == modern.keys()
    for key in legacy:
        np.testing.assert_array_equal(legacy[key], modern[key])


@pytest.mark.parametrize("name", FORMATS)
def test_forward_matches_pytorch_logits(name, reference):
    model = load_pretrained(FIXTURES / name, MICRO_NAME)
    logits = model.network.predict(reference["X"])
    np.testing.assert_allclose(logits, reference["logits"], rtol=1e-4,
                               atol=1e-4 * np.abs(reference["logits"]).max())


def test_loaded_arrays_are_read_only():
    loaded = load_weights(FIXTURES / FORMATS[1], MICRO_NAME)
    assert not loaded.weights["conv1_1.weight"].flags.writeable


def test_predict_command_json(capsys, reference, tmp_path):
    # The npz records its configuration, so predict needs no --config.
    npz = tmp_path / "micro.npz"
    convert_weights(FIXTURES / FORMATS[1], npz, MICRO_NAME)
    status = main(["predict", str(SAMPLES / "chelsea.png"), "--weights",
                   str(npz), "--top", "3", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [set(row) for row in rows] == [{"index", "label", "probability"}] * 3
    expected = np.argsort(-reference["logits"][0], kind="stable")[:3]
    assert [row["index"] for row in rows] == expected.tolist()


@pytest.mark.parametrize("args, message", [
    (["predict", "missing.png"], "No such file"),
    (["predict", "README.md"], "not an image"),
    (["predict", str(SAMPLES / "chelsea.png"), "--weights", "README.md"],
     "README.md"),
    (["predict", str(SAMPLES / "chelsea.png"), "--top", "0"], "--top"),
])
def test_predict_errors_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_configuration_inferred_from_shapes():
    # The micro network shares every key with vgg16; only shapes differ.
    loaded = load_weights(FIXTURES / FORMATS[1])
    assert loaded.config == MICRO_NAME


@pytest.mark.parametrize("method", ["gradient", "gradcam", "occlusion"])
def test_saliency_command_writes_overlay(capsys, tmp_path, method):
    npz = tmp_path / "micro.npz"
    convert_weights(FIXTURES / FORMATS[1], npz, MICRO_NAME)
    out = tmp_path / "map.png"
    status = main(["saliency", str(SAMPLES / "chelsea.png"), "--method",
                   method, "--weights", str(npz), "--class", "281", "--out",
                   str(out)])
    assert status == 0
    assert "class 281" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.size == (224, 224)


@pytest.mark.parametrize("args, message", [
    (["--method", "gradient", "--class", "1000"], "--class must be"),
    (["--method", "gradient", "--out", "map.jpg"], ".png"),
    (["--method", "gradcam", "--layer", "conv9_9"], "no layer named"),
])
def test_saliency_errors_one_line(capsys, tmp_path, args, message):
    npz = tmp_path / "micro.npz"
    convert_weights(FIXTURES / FORMATS[1], npz, MICRO_NAME)
    command = ["saliency", str(SAMPLES / "chelsea.png"), "--weights",
               str(npz), "--out", str(tmp_path / "map.png"), *args]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
