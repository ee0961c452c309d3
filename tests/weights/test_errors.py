"""Plain messages of unusable weight files, with the technical detail kept."""

import numpy as np
import pytest

from engine.weights import (
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsError,
    WeightsFormatError,
    WeightsMismatchError,
    WeightValuesError,
    load_weights,
)
from engine.weights.npz_file import save_npz
from tests.weights.conftest import FIXTURES, TINY_SPECS

# Words of the readers' details that a user should not need to read.
JARGON = ("rejected global", "starts with bytes", "pickle", "persistent id",
          "storage", "posix")


def random_file(tmp_path, tiny_expected):
    path = tmp_path / "random.pth"
    data = np.random.default_rng(0).bytes(256)
    path.write_bytes(b"\xf6" + data[1:])  # no format starts with this byte
    return path


def hostile_file(tmp_path, tiny_expected):
    return FIXTURES / "hostile_os_system_zip.pth"


def truncated_file(tmp_path, tiny_expected):
    path = tmp_path / "cut.pth"
    data = (FIXTURES / "tiny_zip.pth").read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def nan_file(tmp_path, tiny_expected):
    weights = {key: array.copy() for key, array in tiny_expected.items()}
    weights["fc7.bias"][0] = np.nan
    return save_npz(tmp_path / "nan.npz", weights, "custom")


@pytest.mark.parametrize("make_file, kind, plain", [
    (random_file, WeightsFormatError, "not a weights file that can be read"),
    (hostile_file, UnsafeWeightsError, "contains code to run"),
    (truncated_file, CorruptWeightsError, "damaged or incomplete"),
    (nan_file, WeightValuesError, "not finite floating-point numbers"),
])
def test_bad_file_gets_plain_advice(tmp_path, tiny_expected, make_file, kind,
                                    plain):
    path = make_file(tmp_path, tiny_expected)
    with pytest.raises(kind) as error:
        load_weights(path, specs=TINY_SPECS)
    message = error.value.plain_message()
    assert plain in message
    for word in JARGON:
        assert word not in message
    assert error.value.path == path
    assert str(error.value) == f"{path}: {error.value.detail}"


def test_mismatch_advice_names_vgg_networks():
    with pytest.raises(WeightsMismatchError) as error:
        load_weights(FIXTURES / "tiny_zip.pth", config="vgg16")
    assert "VGG11, VGG13, VGG16 or VGG19" in error.value.plain_message()
    assert "does not fit vgg16" in error.value.detail


def test_unsafe_detail_names_the_global():
    with pytest.raises(UnsafeWeightsError) as error:
        load_weights(FIXTURES / "hostile_os_system_legacy.pth")
    assert error.value.detail.startswith("rejected global os.system")


def test_in_file_keeps_kind_and_detail():
    error = CorruptWeightsError("file is truncated").in_file("model.pth")
    assert type(error) is CorruptWeightsError
    assert error.detail == "file is truncated"
    assert error.path == "model.pth"
    assert str(error) == "model.pth: file is truncated"


def test_terminal_message_puts_advice_before_detail():
    error = UnsafeWeightsError("rejected global os.system", "model.pth")
    assert error.terminal_message() == (
        f"model.pth: {UnsafeWeightsError.advice} Detail: rejected global "
        f"os.system")


def test_error_without_advice_shows_detail():
    error = WeightsError("URL scheme must be one of ('https',)")
    assert error.plain_message() == "URL scheme must be one of ('https',)."
    assert error.terminal_message() == error.plain_message()


@pytest.mark.parametrize("kind", [
    WeightsFormatError, UnsafeWeightsError, CorruptWeightsError,
    WeightsMismatchError, WeightValuesError,
])
def test_advice_is_full_sentences(kind):
    assert kind.advice[0].isupper()
    assert kind.advice.endswith(".")
