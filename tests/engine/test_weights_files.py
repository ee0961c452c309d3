"""Weight files that load_weights must reject, each with a clear message.

These complement tests/weights/, which reads fixtures that PyTorch wrote.
Here the files are written by hand, without PyTorch, in the torch zip,
torch legacy and npz formats, for a VGG configuration that monkeypatch
makes tiny but keeps at 1000 classes, so a 1001-class head is cheap.
"""

import io
import pickle
import struct
import sys
import zipfile

import numpy as np
import pytest

import engine.vgg
from engine.vgg import POOL, VGGConfig, layer_specs
from engine.weights import (
    WeightsError,
    expected_shapes,
    load_weights,
    save_npz,
    torchvision_names,
)

CONFIG = "vggtiny1000"
N_CLASSES = 1000
HIDDEN = 10
SEED = 0
FORMATS = ["torch-zip", "torch-legacy", "npz"]
TORCH_FORMATS = ["torch-zip", "torch-legacy"]
# The first bytes by which detect_format distinguishes the formats.
SIGNATURES = {"torch-legacy": b"\x80\x02", "zip": b"PK\x03\x04",
              "keras-h5": b"\x89HDF\r\n\x1a\n"}

# PyTorch's legacy serialization: its magic number, protocol and the system
# information it records, as in tests/fixtures/make_weights.py. Arrays are
# written in this machine's byte order, which the files record.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
LITTLE_ENDIAN = sys.byteorder == "little"
SYS_INFO = {"protocol_version": PROTOCOL_VERSION,
            "little_endian": LITTLE_ENDIAN,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
PICKLE_PROTOCOL = 2
STORAGE_CLASSES = {np.dtype(np.float32): "FloatStorage",
                   np.dtype(np.int64): "LongStorage"}
ELEMENT_COUNT = struct.Struct("<q")


@pytest.fixture
def config(monkeypatch):
    """Add CONFIG: two small conv blocks, then a 1000-class classifier."""
    tiny = VGGConfig((4, POOL, 6, 6, POOL), hidden=HIDDEN,
                     n_classes=N_CLASSES, input_size=8)
    monkeypatch.setitem(engine.vgg.CONFIGS, CONFIG, tiny)
    return CONFIG


def random_weights(config):
    """Random float32 weights of the right shapes, by our names."""
    rng = np.random.default_rng(SEED)
    return {key: rng.standard_normal(shape).astype(np.float32)
            for key, shape in expected_shapes(layer_specs(config)).items()}


# A minimal pickle writer: just the opcodes of a torch state dict.


def pickle_text(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def pickle_int(value):
    return b"J" + struct.pack("<i", value)  # BININT


def pickle_tuple(items):
    return b"(" + b"".join(items) + b"t"  # MARK, items, TUPLE


def pickle_global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()  # GLOBAL


EMPTY_ORDERED_DICT = pickle_global("collections", "OrderedDict") + b")R"


def state_dict_pickle(tensors, legacy):
    """Pickle `tensors` as torch.save does, each in storage str(index).

    A legacy file's storage ids carry a sixth item, the view, here None.
    """
    body = [b"\x80\x02", EMPTY_ORDERED_DICT]
    for index, (name, array) in enumerate(tensors.items()):
        storage_id = [pickle_text("storage"),
                      pickle_global("torch", STORAGE_CLASSES[array.dtype]),
                      pickle_text(str(index)), pickle_text("cpu"),
                      pickle_int(array.size)]
        if legacy:
            storage_id.append(b"N")  # NONE
        strides = [step // array.itemsize for step in array.strides]
        arguments = [pickle_tuple(storage_id) + b"Q",  # BINPERSID
                     pickle_int(0),
                     pickle_tuple(map(pickle_int, array.shape)),
                     pickle_tuple(map(pickle_int, strides)),
                     b"\x89",  # NEWFALSE: requires_grad
                     EMPTY_ORDERED_DICT]  # backward hooks
        body += [pickle_text(name),
                 pickle_global("torch._utils", "_rebuild_tensor_v2"),
                 pickle_tuple(arguments), b"R", b"s"]  # REDUCE, SETITEM
    return b"".join(body) + b"."


def torch_zip_bytes(tensors):
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle(tensors, False))
        archive.writestr("archive/byteorder", sys.byteorder)
        for index, array in enumerate(tensors.values()):
            archive.writestr(f"archive/data/{index}", array.tobytes())
    return body.getvalue()


def torch_legacy_bytes(tensors):
    header = [pickle.dumps(value, PICKLE_PROTOCOL)
              for value in (MAGIC_NUMBER, PROTOCOL_VERSION, SYS_INFO)]
    keys = [str(index) for index in range(len(tensors))]
    storages = [ELEMENT_COUNT.pack(array.size) + array.tobytes()
                for array in tensors.values()]
    return b"".join([*header, state_dict_pickle(tensors, True),
                     pickle.dumps(keys, PICKLE_PROTOCOL), *storages])


def file_key(fmt, key, config):
    """The name of our parameter `key` in a file of format `fmt`.

    Torch files use torchvision's names. A key that no layer of `config`
    has, such as a misspelled one, keeps its name.
    """
    if fmt == "npz":
        return key
    theirs = {ours: name for name, ours
              in torchvision_names(layer_specs(config)).items()}
    return theirs.get(key, key)


def write_weights(tmp_path, fmt, weights, config):
    """Write `weights`, by our names, as a file of format `fmt`."""
    path = tmp_path / f"weights.{fmt}"
    if fmt == "npz":
        return save_npz(path, weights, config)
    tensors = {file_key(fmt, key, config): np.ascontiguousarray(array)
               for key, array in weights.items()}
    write = torch_zip_bytes if fmt == "torch-zip" else torch_legacy_bytes
    path.write_bytes(write(tensors))
    return path


def load_error(path, config):
    """Load `path`, expect WeightsError and return its message."""
    with pytest.raises(WeightsError) as error:
        load_weights(path, config)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    return message


# The writers, checked first: the rejections below mean something only if
# the same files without the fault load.


@pytest.mark.parametrize("fmt", FORMATS)
def test_hand_written_file_loads(tmp_path, fmt, config):
    weights = random_weights(config)
    loaded = load_weights(write_weights(tmp_path, fmt, weights, config), config)
    assert loaded.source == fmt
    assert loaded.config == config
    for key, array in weights.items():
        np.testing.assert_array_equal(loaded.weights[key], array, err_msg=key)


# Shapes.


@pytest.mark.parametrize("fmt", FORMATS)
def test_classifier_of_1001_outputs(tmp_path, fmt, config):
    weights = random_weights(config)
    weights["fc8.weight"] = np.zeros((N_CLASSES + 1, HIDDEN), np.float32)
    weights["fc8.bias"] = np.zeros(N_CLASSES + 1, np.float32)
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    weight_label, bias_label = "fc8.weight", "fc8.bias"
    if fmt != "npz":
        weight_label += f" ({file_key(fmt, 'fc8.weight', config)} in the file)"
        bias_label += f" ({file_key(fmt, 'fc8.bias', config)} in the file)"
    assert (f"{weight_label}: expected shape ({N_CLASSES}, {HIDDEN}) for "
            f"{config}, found ({N_CLASSES + 1}, {HIDDEN})") in message
    assert (f"{bias_label}: expected shape ({N_CLASSES},) for {config}, "
            f"found ({N_CLASSES + 1},)") in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_flattened_kernel_names_both_shapes(tmp_path, fmt, config):
    weights = random_weights(config)
    weights["conv2_1.weight"] = weights["conv2_1.weight"].reshape(-1)
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    assert "conv2_1.weight" in message
    assert f"expected shape (6, 4, 3, 3) for {config}, found (216,)" in message


# Keys.


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_key_named(tmp_path, fmt, config):
    weights = random_weights(config)
    del weights["fc7.bias"]
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    missing = file_key(fmt, "fc7.bias", config)
    assert message.endswith(f"does not fit {config}: missing keys {missing}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_misspelled_key_named_twice(tmp_path, fmt, config):
    weights = random_weights(config)
    weights["conv1_1.weights"] = weights.pop("conv1_1.weight")
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    missing = file_key(fmt, "conv1_1.weight", config)
    assert f"missing keys {missing}; unexpected keys conv1_1.weights" in message


# Values.


@pytest.mark.parametrize("value, counts", [
    (np.nan, "1 NaN and 0 infinite"),
    (np.inf, "0 NaN and 1 infinite"),
    (-np.inf, "0 NaN and 1 infinite"),
])
@pytest.mark.parametrize("fmt", FORMATS)
def test_non_finite_weight_named(tmp_path, fmt, config, value, counts):
    weights = random_weights(config)
    weights["fc7.bias"][3] = value
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    assert message.endswith(
        f"fc7.bias contains {counts} values; weights must be finite")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_integer_weight_named(tmp_path, fmt, config):
    weights = random_weights(config)
    weights["conv1_1.bias"] = np.arange(4, dtype=np.int64)
    message = load_error(write_weights(tmp_path, fmt, weights, config), config)
    assert "conv1_1.bias has dtype int64; expected float16, float32" in message


# Damaged files.


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.6, 0.95])
@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_file_rejected(tmp_path, fmt, config, fraction):
    path = write_weights(tmp_path, fmt, random_weights(config), config)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    message = load_error(path, config)
    assert "truncated" in message or "corrupt" in message


@pytest.mark.parametrize("signature", sorted(SIGNATURES))
def test_random_bytes_after_signature(tmp_path, signature, config):
    rest = np.random.default_rng(SEED).bytes(4096)
    path = tmp_path / "random.bin"
    path.write_bytes(SIGNATURES[signature] + rest)
    assert "corrupt" in load_error(path, config)


def zip_file(tmp_path, names):
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        for name in names:
            archive.writestr(name, b"")
    path = tmp_path / "weights.zip"
    path.write_bytes(body.getvalue())
    return path


@pytest.mark.parametrize("names, text", [
    # An empty archive has only an end record, PK\x05\x06, which
    # detect_format does not take for a zip file.
    ([], "not a weight file: expected PyTorch (.pth), Keras (.h5) or npz"),
    (["data.pkl"], "neither a PyTorch file"),
    (["a/b/data.pkl"], "neither a PyTorch file"),
    (["one/data.pkl", "two/data.pkl"], "exactly one <folder>/data.pkl; found 2"),
])
def test_zip_without_one_state_dict(tmp_path, config, names, text):
    assert text in load_error(zip_file(tmp_path, names), config)
