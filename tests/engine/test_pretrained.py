"""A narrow VGG16 saved by PyTorch: identical weights, matching logits,
and the predict command on it."""

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

import engine.vgg
from engine.cli import main
from engine.images import MAX_ASPECT_RATIO
from engine.predict import class_names
from engine.pretrained import load_pretrained
from engine.vgg import POOL, VGGConfig, he_weights, layer_specs
from engine.weights import (
    convert_weights,
    load_weights,
    read_torch_file,
    save_npz,
)
from tests.fixtures.micro import MICRO, MICRO_NAME

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vgg_micro"
SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"
FORMATS = ["micro_legacy.pth", "micro_zip.pth"]
# VGG11 narrowed like the micro VGG16, to check that messages name VGG11.
VGG11_MICRO_NAME = "vgg11-micro"
VGG11_MICRO = VGGConfig(
    tuple(c if c == POOL else c // 16
          for c in engine.vgg.CONFIGS["vgg11"].channels),
    hidden=16, n_classes=1000)


@pytest.fixture(autouse=True)
def micro_config(monkeypatch):
    monkeypatch.setitem(engine.vgg.CONFIGS, MICRO_NAME, MICRO)
    monkeypatch.setitem(engine.vgg.CONFIGS, VGG11_MICRO_NAME, VGG11_MICRO)


@pytest.fixture
def micro_npz(tmp_path):
    """The micro VGG16 weights as npz, which names its configuration."""
    npz = tmp_path / "micro.npz"
    convert_weights(FIXTURES / FORMATS[1], npz, MICRO_NAME)
    return npz


def png_bytes(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(buffer, "PNG")
    return buffer.getvalue()


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
    assert f"class 281 ({class_names()[281]})" in capsys.readouterr().out
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


def test_predict_notes_enlarged_photo(capsys, micro_npz, tmp_path):
    photo = tmp_path / "tiny.png"
    photo.write_bytes(png_bytes(2, 2))
    status = main(["predict", str(photo), "--weights", str(micro_npz),
                   "--top", "2", "--json"])
    captured = capsys.readouterr()
    assert status == 0
    assert len(json.loads(captured.out)) == 2  # the note stays off stdout
    assert captured.err.startswith(f"note: {photo}: The photo is 2x2 pixels")
    assert "224x224" in captured.err


def test_predict_adds_no_note_for_large_photo(capsys, micro_npz):
    status = main(["predict", str(SAMPLES / "chelsea.png"), "--weights",
                   str(micro_npz), "--top", "1"])
    assert status == 0
    assert capsys.readouterr().err == ""


def test_saliency_notes_enlarged_photo(capsys, micro_npz, tmp_path):
    photo = tmp_path / "tiny.png"
    photo.write_bytes(png_bytes(3, 2))
    status = main(["saliency", str(photo), "--method", "gradient",
                   "--weights", str(micro_npz), "--out",
                   str(tmp_path / "map.png")])
    assert status == 0
    assert "The photo is 3x2 pixels" in capsys.readouterr().err


def test_predict_long_photo_names_vgg11(capsys, tmp_path):
    weights = he_weights(layer_specs(VGG11_MICRO_NAME))
    npz = save_npz(tmp_path / "vgg11.npz", weights, VGG11_MICRO_NAME)
    photo = tmp_path / "strip.png"
    photo.write_bytes(png_bytes(10 * MAX_ASPECT_RATIO + 1, 10))
    assert main(["predict", str(photo), "--weights", str(npz)]) == 2
    err = capsys.readouterr().err
    assert "the centre square that VGG11-MICRO sees" in err
    assert "VGG16" not in err
    assert "enlarged" not in err  # a rejected strip is never enlarged
